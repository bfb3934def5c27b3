from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicluster.cursor import Cursor, CursorCodec, InvalidCursor, _b64
from minicluster.errors import ConfigError

CODEC = CursorCodec(b"0123456789abcdef-secret")
AT = datetime(2026, 11, 26, 12, 30, 15, 123456, tzinfo=UTC)

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))


@given(instants, st.integers(0, (1 << 63) - 1), st.sampled_from(["newest", "oldest"]))
def test_round_trip_keeps_microseconds_and_id(at, post_id, direction):
    cursor = Cursor(at, post_id, direction)
    assert CODEC.decode(CODEC.encode(cursor), direction) == cursor


def test_token_is_opaque_text():
    token = CODEC.encode(Cursor(AT, 42))
    assert token.isascii() and " " not in token and "42" not in token.split(".")[1]


@given(st.text(max_size=80))
def test_garbage_raises_invalid_cursor_and_nothing_else(text):
    with pytest.raises(InvalidCursor):
        CODEC.decode(text, "newest")


def test_every_single_character_edit_is_refused():
    token = CODEC.encode(Cursor(AT, 42))
    for i, ch in enumerate(token):
        if ch == ".":
            continue
        edited = token[:i] + ("A" if ch != "A" else "B") + token[i + 1 :]
        with pytest.raises(InvalidCursor):
            CODEC.decode(edited, "newest")


def test_wrong_direction_other_cluster_and_old_version_are_named():
    token = CODEC.encode(Cursor(AT, 42, "newest"))
    with pytest.raises(InvalidCursor, match="issued for the 'newest' direction, not 'oldest'"):
        CODEC.decode(token, "oldest")
    with pytest.raises(InvalidCursor, match="signature does not match"):
        CursorCodec(b"another-cluster-secret!").decode(token, "newest")
    payload = b'{"d":"newest","id":42,"t":"2026-11-26T12:30:15.123456+00:00","v":0}'
    old = f"{_b64(payload)}.{_b64(CODEC._sign(payload))}"
    with pytest.raises(InvalidCursor, match="version 0 is no longer accepted"):
        CODEC.decode(old, "newest")
    with pytest.raises(InvalidCursor, match="non-empty string"):
        CODEC.decode(None, "newest")


def test_bad_cursor_construction_is_a_config_error():
    with pytest.raises(ConfigError, match="timezone-aware UTC"):
        Cursor(datetime(2026, 1, 1), 1)
    with pytest.raises(ConfigError, match="timezone-aware UTC"):
        Cursor(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=9))), 1)
    with pytest.raises(ConfigError, match="'sideways'"):
        Cursor(AT, 1, "sideways")
    with pytest.raises(ConfigError, match="16 bytes"):
        CursorCodec(b"short")
