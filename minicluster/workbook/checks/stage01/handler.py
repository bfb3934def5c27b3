"""Checker of ``01.handler``: a JSON handler over DuckDB, probed with ids at every boundary."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from ....apps import create_users
from ....storage import DatabaseNode
from ....web import Request, Response
from ..base import Checker, Failure, describe

_USERS = 60

# The node's own users table (DuckDB attaches every node's file to one engine: name the catalog).
_USERS_TABLES = (
    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'users' AND table_catalog = current_database()"
)


class _RecordingConnection:
    """The learner's ``db``: a real DuckDB connection that also remembers every statement sent."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self.statements: list[str] = []

    def execute(self, sql, params=None):
        self.statements.append(str(sql))
        return self._conn.execute(sql, params)


class HandlerCheck(Checker):
    """``get_user(request, db)``: 200 / 404 / 400, JSON every time, the id only ever a parameter."""

    exercise_id = "01.handler"
    #: raw id in the URL -> the user it names (leading zeros are still 1 to 18 ASCII digits)
    known_ids = {"1": 1, "37": 37, "60": 60, "007": 7, "0" * 16 + "37": 37}
    #: well-formed, nobody has them: zero, just past the last user, the longest id allowed
    unknown_ids = ("61", "999999", "0", "9" * 18)
    malformed_ids = (
        "abc",
        "+5",  # a sign is not a digit
        "-0",
        "0" * 18 + "1",  # 19 characters: zero padding does not make it shorter
        "0x1F",
        "12abc",
        "",
        "1.5",
        "-3",
        " 7",
        "٣",  # an Arabic-Indic three: int() accepts it, a URL id should not
        "9" * 19,
        "1 OR 1=1",
        "1; DROP TABLE users; --",
    )

    def verify(self, get_user) -> list[str]:
        if not callable(get_user):
            raise Failure(f"expected a function get_user(request, db), got {describe(get_user)}")
        with tempfile.TemporaryDirectory(prefix="check-01-handler-") as folder:
            db = DatabaseNode("db", Path(folder) / "users.duckdb")
            try:
                create_users(db, _USERS, seed=7)
                users = {
                    str(r[0]): {"id": r[0], "name": r[1], "email": r[2]} for r in db.execute("SELECT * FROM users")
                }
                with db.connect() as conn:
                    for raw, user in self.known_ids.items():
                        data = self._ask(get_user, conn, raw, 200)
                        if data != users[str(user)]:
                            raise Failure(
                                f"{_request_line(raw)}: the body was {describe(data)}; expected the user's "
                                f"id, name and email as a JSON object with exactly those keys"
                            )
                    for raw in self.unknown_ids:
                        self._ask(get_user, conn, raw, 404)
                    for raw in self.malformed_ids:
                        self._ask(get_user, conn, raw, 400)
                        if db.execute(_USERS_TABLES) != [(1,)]:
                            raise Failure(f"{_request_line(raw)} dropped the users table: the id reached the SQL text")
            finally:
                db.close()
        return [
            f"200 with the right user as JSON for ids {', '.join(self.known_ids)}",
            f"404 for ids that do not exist ({', '.join(self.unknown_ids)})",
            f"400 for {len(self.malformed_ids)} malformed ids, including SQL injection attempts",
            "every response is application/json, and the id always travels as a query parameter",
        ]

    def _ask(self, get_user, conn, raw: str, expected: int):
        """Call the handler for ``/users/{raw}``; check status, content type and JSON body."""
        on = _request_line(raw)
        db = _RecordingConnection(conn)
        request = Request("GET", f"/users/{raw}", path_params={"id": raw})
        response = self.call(get_user, request, db, on=on)
        if response is None:
            raise Failure(f"{on}: get_user returned None — did you forget a `return`?")
        if not isinstance(response, Response):
            raise Failure(f"{on}: get_user returned {describe(response)}; return a Response (e.g. Response.json(...))")
        if response.status != expected:
            raise Failure(f"{on}: status {response.status!r}, expected {expected} ({_WHY[expected]})")
        content_type = (response.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise Failure(f"{on}: Content-Type was {response.content_type!r}; a JSON API answers application/json")
        try:
            data = json.loads(response.body)
        except (TypeError, ValueError):
            raise Failure(f"{on}: the body {describe(response.body)} is not valid JSON") from None
        if expected != 200 and not (isinstance(data, dict) and "error" in data):
            raise Failure(
                f'{on}: an error response should say what went wrong as {{"error": ...}}, got {describe(data)}'
            )
        self._check_parameters(on, raw, db.statements)
        return data

    @staticmethod
    def _check_parameters(on: str, raw: str, statements) -> None:
        if len(raw) < 2 or not raw.isdigit():
            return  # a one-digit id could match any number in the SQL; longer ones cannot by chance
        literal = re.compile(rf"(?<![0-9]){raw}(?![0-9])")
        for sql in statements:
            if literal.search(sql):
                raise Failure(
                    f"{on}: the id {raw} appears inside the SQL text {describe(sql)} — put a ? placeholder "
                    "there and pass the id as a parameter, or a crafted id can rewrite your query"
                )


def _request_line(raw: str) -> str:
    """``GET /users/37`` for plain ids; quoted when spaces or odd characters would hide in the text."""
    return f"GET /users/{raw}" if raw.isascii() and raw.isalnum() else f"GET /users/{raw!r}"


_WHY = {
    200: "the user exists",
    404: "the id is well-formed but no user has it",
    400: "the id is not 1 to 18 ASCII digits",
}
