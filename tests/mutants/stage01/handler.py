"""Wrong answers to ``01.handler``, each one a mistake a learner could make."""

import json

from minicluster import Response

COLUMNS = "SELECT id, name, email FROM users WHERE id = ?"


def _lookup(db, user_id):
    row = db.execute(COLUMNS, [user_id]).fetchone()
    return None if row is None else dict(zip(("id", "name", "email"), row))


def _valid(raw):
    return raw.isascii() and raw.isdigit() and len(raw) <= 18


def sql_by_string_formatting(request, db):
    """Validates the id, then formats it into the SQL text: safe today, an injection tomorrow."""
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response.json({"error": "bad id"}, 400)
    row = db.execute(f"SELECT id, name, email FROM users WHERE id = {raw}").fetchone()
    if row is None:
        return Response.json({"error": "not found"}, 404)
    return Response.json(dict(zip(("id", "name", "email"), row)))


def injectable(request, db):
    """No validation and string formatting: '1 OR 1=1' returns somebody."""
    raw = request.path_params["id"]
    try:
        row = db.execute(f"SELECT id, name, email FROM users WHERE id = {raw}").fetchone()
    except Exception:
        return Response.json({"error": "bad id"}, 400)
    if row is None:
        return Response.json({"error": "not found"}, 404)
    return Response.json(dict(zip(("id", "name", "email"), row)))


def crash_on_unknown(request, db):
    """fetchone() is None for an unknown id and indexing it raises: a 500 in production."""
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response.json({"error": "bad id"}, 400)
    row = db.execute(COLUMNS, [int(raw)]).fetchone()
    return Response.json({"id": row[0], "name": row[1], "email": row[2]})


def status_500_on_unknown(request, db):
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response.json({"error": "bad id"}, 400)
    user = _lookup(db, int(raw))
    return Response.json(user) if user else Response.json({"error": "not found"}, 500)


def status_200_on_unknown(request, db):
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response.json({"error": "bad id"}, 400)
    return Response.json(_lookup(db, int(raw)) or {})


def no_400_int_raises(request, db):
    """int('abc') raises ValueError: a 500 instead of a 400."""
    user = _lookup(db, int(request.path_params["id"]))
    return Response.json(user) if user else Response.json({"error": "not found"}, 404)


def int_as_validator(request, db):
    """int() accepts ' 7', '-3' and Unicode digits, so they slip through as well-formed."""
    try:
        user_id = int(request.path_params["id"])
    except ValueError:
        return Response.json({"error": "bad id"}, 400)
    user = _lookup(db, user_id)
    return Response.json(user) if user else Response.json({"error": "not found"}, 404)


def unicode_digits_accepted(request, db):
    """str.isdigit() is true for '٣': missing the isascii() part."""
    raw = request.path_params["id"]
    if not (raw.isdigit() and len(raw) <= 18):
        return Response.json({"error": "bad id"}, 400)
    user = _lookup(db, int(raw))
    return Response.json(user) if user else Response.json({"error": "not found"}, 404)


def no_length_limit(request, db):
    """A 19-digit id overflows BIGINT inside DuckDB: a 500 instead of a 400."""
    raw = request.path_params["id"]
    if not (raw.isascii() and raw.isdigit()):
        return Response.json({"error": "bad id"}, 400)
    user = _lookup(db, int(raw))
    return Response.json(user) if user else Response.json({"error": "not found"}, 404)


def not_found_for_malformed(request, db):
    raw = request.path_params["id"]
    user = _lookup(db, int(raw)) if _valid(raw) else None
    return Response.json(user) if user else Response.json({"error": "not found"}, 404)


def text_plain_content_type(request, db):
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response(400, json.dumps({"error": "bad id"}), {"Content-Type": "application/json"})
    user = _lookup(db, int(raw))
    if user is None:
        return Response(404, json.dumps({"error": "not found"}), {"Content-Type": "application/json"})
    return Response(200, json.dumps(user), {"Content-Type": "text/plain"})


def plain_text_errors(request, db):
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response(400, "bad id", {"Content-Type": "text/plain"})
    user = _lookup(db, int(raw))
    return Response.json(user) if user else Response(404, "not found", {"Content-Type": "text/plain"})


def error_without_message(request, db):
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response.json(None, 400)
    user = _lookup(db, int(raw))
    return Response.json(user) if user else Response.json(None, 404)


def returns_a_dict(request, db):
    raw = request.path_params["id"]
    return {"status": 200, "body": _lookup(db, int(raw)) if _valid(raw) else None}


def forgets_return(request, db):
    raw = request.path_params["id"]
    if _valid(raw):
        Response.json(_lookup(db, int(raw)))


def wrong_keys(request, db):
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response.json({"error": "bad id"}, 400)
    user = _lookup(db, int(raw))
    if user is None:
        return Response.json({"error": "not found"}, 404)
    return Response.json({"user_id": user["id"], "name": user["name"], "email": user["email"]})


def id_as_string(request, db):
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response.json({"error": "bad id"}, 400)
    user = _lookup(db, int(raw))
    if user is None:
        return Response.json({"error": "not found"}, 404)
    return Response.json({**user, "id": raw})


def always_the_first_user(request, db):
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response.json({"error": "bad id"}, 400)
    row = db.execute("SELECT id, name, email FROM users ORDER BY id LIMIT 1").fetchone()
    if int(raw) > 60:
        return Response.json({"error": "not found"}, 404)
    return Response.json(dict(zip(("id", "name", "email"), row)))


def hangs_on_unknown(request, db):
    raw = request.path_params["id"]
    if not _valid(raw):
        return Response.json({"error": "bad id"}, 400)
    user = _lookup(db, int(raw))
    while user is None:
        user = _lookup(db, int(raw))
    return Response.json(user)


def _with_rule(valid, name, doc):
    """A handler right in every way but its rule for a well-formed id (the statement: 1 to 18 ASCII digits)."""

    def handler(request, db):
        raw = request.path_params["id"]
        if not valid(raw):
            return Response.json({"error": f"malformed user id {raw!r}"}, 400)
        user = _lookup(db, int(raw))
        if user is None:
            return Response.json({"error": "no such user"}, 404)
        return Response.json(user)

    handler.__name__, handler.__doc__ = name, doc
    return handler


accepts_a_plus_sign = _with_rule(
    lambda r: r.isascii() and r.lstrip("+").isdigit() and len(r) <= 18,
    "accepts_a_plus_sign",
    "Lets '+5' through: int() reads it, but a sign is not a digit.",
)
limit_counts_digits_after_zeros = _with_rule(
    lambda r: r.isascii() and r.isdigit() and len(r.lstrip("0")) <= 18,
    "limit_counts_digits_after_zeros",
    "Measures the id without its leading zeros, so 19 characters of zero padding pass.",
)
leading_zeros_rejected = _with_rule(
    lambda r: r.isascii() and r.isdigit() and len(r) <= 18 and (r == "0" or not r.startswith("0")),
    "leading_zeros_rejected",
    "Calls '007' malformed, though it is three ASCII digits.",
)
zero_is_malformed = _with_rule(
    lambda r: r.isascii() and r.isdigit() and len(r) <= 18 and int(r) > 0,
    "zero_is_malformed",
    "Answers 400 for id 0, which is well-formed and simply unknown (404).",
)
longest_id_rejected = _with_rule(
    lambda r: r.isascii() and r.isdigit() and len(r) < 18,
    "longest_id_rejected",
    "Off by one at the limit: an 18-digit id is allowed.",
)


MUTANTS = {
    f.__name__: f
    for f in (
        sql_by_string_formatting,
        injectable,
        crash_on_unknown,
        status_500_on_unknown,
        status_200_on_unknown,
        no_400_int_raises,
        int_as_validator,
        unicode_digits_accepted,
        no_length_limit,
        not_found_for_malformed,
        text_plain_content_type,
        plain_text_errors,
        error_without_message,
        returns_a_dict,
        forgets_return,
        wrong_keys,
        id_as_string,
        always_the_first_user,
        hangs_on_unknown,
        accepts_a_plus_sign,
        limit_counts_digits_after_zeros,
        leading_zeros_rejected,
        zero_is_malformed,
        longest_id_rejected,
    )
}
