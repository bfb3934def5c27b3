"""Opaque, signed, versioned page cursors for the capstone's feed.

A cursor is the client's bookmark: "the next page starts after this post". It carries the sort key
of the last post returned, ``(created_at, post_id)``, and the direction it was issued for. The client
must treat it as an opaque string, and the server must not trust it: it is

* **opaque**: base64url text, so clients do not build their own and lock the API into a format;
* **signed** with the cluster's secret (HMAC-SHA256), so an edited cursor is refused, not obeyed;
* **versioned**, so a cursor from an older format is refused with a clear message, never misread;
* **bound to its direction**: a newest-first cursor cannot be replayed to walk oldest-first.

Every way a cursor can be wrong raises :class:`InvalidCursor` with a message saying which.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import ConfigError, MiniclusterError

VERSION = 1
DIRECTIONS = ("newest", "oldest")


class InvalidCursor(MiniclusterError, ValueError):
    """A cursor that this API did not issue, was altered, is from an old version, or is for another direction."""


@dataclass(frozen=True)
class Cursor:
    """The position after which the next page starts."""

    created_at: datetime  #: timezone-aware UTC, microsecond precision
    post_id: int
    direction: str = "newest"

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"direction must be 'newest' or 'oldest', got {self.direction!r}")
        if self.created_at.tzinfo is None or self.created_at.utcoffset().total_seconds() != 0:
            raise ConfigError(f"created_at must be timezone-aware UTC, got {self.created_at!r}")

    @property
    def key(self) -> tuple[datetime, int]:
        return (self.created_at, self.post_id)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """The bytes of unpadded base64url ``text``; only the one spelling :func:`_b64` writes is accepted."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError(f"not canonical base64url: {text!r}")
    return data


#: The positions a cursor may hold: post ids are Snowflake ids (63 bits), times within DuckDB's range.
MAX_POST_ID = 2**63 - 1
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)


class CursorCodec:
    """Turns :class:`Cursor` into tokens and back, signing with ``secret``."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise ConfigError("a cursor secret must be at least 16 bytes")
        self._secret = secret

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:16]

    def encode(self, cursor: Cursor) -> str:
        body = {"v": VERSION, "d": cursor.direction, "t": cursor.created_at.isoformat(), "id": cursor.post_id}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, token: object, direction: str) -> Cursor:
        """The cursor in ``token``, which must have been issued for ``direction``."""
        if not isinstance(token, str) or not token:
            raise InvalidCursor(f"a cursor is a non-empty string from a previous page, got {token!r}")
        shown = token if len(token) <= 40 else token[:37] + "..."
        try:
            payload_text, signature_text = token.split(".")
            payload, signature = _unb64(payload_text), _unb64(signature_text)
        except (ValueError, binascii.Error):
            raise InvalidCursor(f"{shown!r} is not a cursor this API issued") from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidCursor(
                f"cursor {shown!r} was altered or issued by another cluster: its signature does not match"
            )
        try:
            body = json.loads(payload)
            version = body["v"]
        except (ValueError, KeyError, TypeError):
            raise InvalidCursor(f"cursor {shown!r} is signed but unreadable") from None
        if version != VERSION:
            raise InvalidCursor(
                f"cursor version {version!r} is no longer accepted (current: {VERSION}); start from the first page"
            )
        if body.get("d") != direction:
            raise InvalidCursor(f"cursor was issued for the {body.get('d')!r} direction, not {direction!r}")
        try:
            created_at = datetime.fromisoformat(body["t"])
            post_id = body["id"]
            if type(post_id) is not int or not 0 <= post_id <= MAX_POST_ID or created_at.tzinfo is None:
                raise ValueError(post_id)
            created_at = created_at.astimezone(UTC)
            if not EARLIEST <= created_at < LATEST:
                raise ValueError(created_at)
            return Cursor(created_at, post_id, direction)
        except (ValueError, KeyError, TypeError, OverflowError, ConfigError):
            raise InvalidCursor(f"cursor {shown!r} is signed but its position is unreadable") from None
