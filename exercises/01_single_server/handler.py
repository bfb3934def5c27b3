"""Exercise 01.handler: the JSON API of a single server, ``GET /users/{id}``, over DuckDB.

A mobile app or a web page asks ``GET /users/42`` and expects JSON back. Your handler gets the
request and a database connection, looks the user up, and answers with the right status code.
"""

from minicluster import Response


def get_user(request, db):
    """Answer ``GET /users/{id}`` from the ``users`` table (columns ``id``, ``name``, ``email``).

    ``request.path_params["id"]`` is the raw text of the id from the URL. A well-formed id is 1 to 18
    ASCII digits (``0``-``9``); anything else is malformed.

    - known id: status 200, body ``{"id": 42, "name": "...", "email": "..."}``
    - well-formed id with no such user: status 404, body ``{"error": "<what went wrong>"}``
    - malformed id: status 400, body ``{"error": "<what went wrong>"}``

    Every response is JSON (``Content-Type: application/json``): ``Response.json(data, status)``
    builds one. Query with a ``?`` placeholder and pass the id as a parameter,
    ``db.execute(sql, [value])``, never by putting it into the SQL text.
    """
    # TODO: write this (the docstring says what it must do), then run: minicluster check 01.handler
    raise NotImplementedError
