import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicluster.errors import ConfigError
from minicluster.ids import EPOCH_MS, MAX_NODE, MAX_SEQUENCE, SnowflakeGenerator, compose, decompose


@given(
    st.integers(EPOCH_MS, EPOCH_MS + (1 << 41) - 1),
    st.integers(0, MAX_NODE),
    st.integers(0, MAX_SEQUENCE),
)
def test_compose_and_decompose_are_inverse(ms, node, sequence):
    parts = decompose(compose(ms, node, sequence))
    assert (parts.timestamp_ms, parts.node, parts.sequence) == (ms, node, sequence)


def test_layout_is_41_10_12_bits():
    snowflake = compose(EPOCH_MS + 1, 3, 5)
    assert snowflake == (1 << 22) | (3 << 12) | 5
    assert decompose(snowflake).created_at.isoformat() == "2020-01-01T00:00:00.001000+00:00"


def test_ids_grow_with_time_and_order_by_time_across_nodes():
    now = [EPOCH_MS + 1000]
    a, b = SnowflakeGenerator(1, lambda: now[0]), SnowflakeGenerator(2, lambda: now[0])
    first_a, first_b = a.next_id(), b.next_id()
    now[0] += 1
    later_b = b.next_id()
    assert first_a < first_b < later_b, "same millisecond: node breaks the tie; a later millisecond sorts after"


def test_sequence_overflow_borrows_the_next_millisecond():
    gen = SnowflakeGenerator(7, lambda: EPOCH_MS + 50)
    ids = [gen.next_id() for _ in range(MAX_SEQUENCE + 3)]
    assert ids == sorted(set(ids))
    assert decompose(ids[MAX_SEQUENCE]).sequence == MAX_SEQUENCE
    assert decompose(ids[MAX_SEQUENCE + 1]).timestamp_ms == EPOCH_MS + 51


def test_clock_going_backwards_never_produces_a_smaller_id():
    readings = iter([EPOCH_MS + 100, EPOCH_MS + 101, EPOCH_MS + 90, EPOCH_MS + 95, EPOCH_MS + 102])
    gen = SnowflakeGenerator(1, lambda: next(readings))
    ids = [gen.next_id() for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert gen.clock_went_backwards == 2
    assert decompose(ids[2]).timestamp_ms == EPOCH_MS + 101


def test_unique_under_concurrent_use():
    gen = SnowflakeGenerator(9)
    out = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def make():
        start.wait()
        mine = [gen.next_id() for _ in range(5000)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 20_000


def test_bad_parts_are_named():
    with pytest.raises(ConfigError, match="node must be an integer between 0 and 1023, got 1024"):
        SnowflakeGenerator(1024)
    with pytest.raises(ConfigError, match="outside the id's range"):
        compose(0, 0, 0)
    with pytest.raises(ConfigError, match="not a Snowflake id: -1"):
        decompose(-1)
