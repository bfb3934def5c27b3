"""Wrong answers to Stage 2's exercise."""

import math

from minicluster.errors import Bottleneck


def no_spare(target_qps, per_server_qps, headroom=0.25, spares=1):
    return math.ceil(target_qps / (per_server_qps * (1 - headroom)))


def no_headroom(target_qps, per_server_qps, headroom=0.25, spares=1):
    return math.ceil(target_qps / per_server_qps) + spares


def headroom_added_instead_of_kept(target_qps, per_server_qps, headroom=0.25, spares=1):
    return math.ceil(target_qps / (per_server_qps * (1 + headroom))) + spares


def rounds_down(target_qps, per_server_qps, headroom=0.25, spares=1):
    return math.floor(target_qps / (per_server_qps * (1 - headroom))) + spares


def rounds_to_nearest(target_qps, per_server_qps, headroom=0.25, spares=1):
    return round(target_qps / (per_server_qps * (1 - headroom))) + spares


def returns_a_float(target_qps, per_server_qps, headroom=0.25, spares=1):
    return target_qps / (per_server_qps * (1 - headroom)) + spares


def always_one_spare(target_qps, per_server_qps, headroom=0.25, spares=1):
    return math.ceil(target_qps / (per_server_qps * (1 - headroom))) + 1


def headroom_on_the_target(target_qps, per_server_qps, headroom=0.25, spares=1):
    """Scales the target by (1 - headroom) instead of the capacity: plans for less than the peak."""
    return math.ceil(target_qps * (1 - headroom) / per_server_qps) + spares


def forgets_return(target_qps, per_server_qps, headroom=0.25, spares=1):
    math.ceil(target_qps / (per_server_qps * (1 - headroom))) + spares


def memorised_examples(target_qps, per_server_qps, headroom=0.25, spares=1):
    """Right on the worked examples, one server short everywhere else."""
    table = {
        (300, 200, 0.25, 1): 3,
        (1000, 100, 0.0, 0): 10,
        (1000, 100, 0.2, 1): 14,
        (50, 200, 0.25, 1): 2,
        (10_000, 400, 0.3, 2): 38,
        (600, 200, 0.25, 0): 4,
        (150, 200, 0.25, 1): 2,
    }
    return table.get((target_qps, per_server_qps, headroom, spares), 2)


def never_fewer_than_two(target_qps, per_server_qps, headroom=0.25, spares=1):
    """Always plans at least two servers, even when one is enough and no spare was asked for."""
    return max(2, math.ceil(target_qps / (per_server_qps * (1 - headroom))) + spares)


def truncates_capacity(target_qps, per_server_qps, headroom=0.25, spares=1):
    """Takes int() of the usable capacity per server: 108.5 req/s becomes 108, one server too many."""
    return math.ceil(target_qps / int(per_server_qps * (1 - headroom))) + spares


def _web_tier(target_qps, per_server_qps, headroom, spares):
    return math.ceil(target_qps / (per_server_qps * (1 - headroom))) + spares


def ignores_the_database(target_qps, per_server_qps, headroom=0.25, spares=1, db_qps=None):
    """Plans web servers for 1,000 req/s in front of a 250 req/s database."""
    return _web_tier(target_qps, per_server_qps, headroom, spares)


def database_without_headroom(target_qps, per_server_qps, headroom=0.25, spares=1, db_qps=None):
    """Runs the database at 100% while keeping headroom on the web servers."""
    if db_qps is not None and target_qps > db_qps:
        raise Bottleneck("the database cannot take it")
    return _web_tier(target_qps, per_server_qps, headroom, spares)


def refuses_at_exactly_the_limit(target_qps, per_server_qps, headroom=0.25, spares=1, db_qps=None):
    """>= where > is meant: a target that exactly fills the database's usable share is refused."""
    if db_qps is not None and target_qps >= db_qps * (1 - headroom):
        raise Bottleneck("the database cannot take it")
    return _web_tier(target_qps, per_server_qps, headroom, spares)


def zero_servers_for_a_bottleneck(target_qps, per_server_qps, headroom=0.25, spares=1, db_qps=None):
    """Answers 0 servers instead of saying that no number of them helps."""
    if db_qps is not None and target_qps > db_qps * (1 - headroom):
        return 0
    return _web_tier(target_qps, per_server_qps, headroom, spares)


def value_error_for_a_bottleneck(target_qps, per_server_qps, headroom=0.25, spares=1, db_qps=None):
    """A plain ValueError: the caller cannot tell a bottleneck from a bad argument."""
    if db_qps is not None and target_qps > db_qps * (1 - headroom):
        raise ValueError("too much load")
    return _web_tier(target_qps, per_server_qps, headroom, spares)


MUTANTS = {
    f.__name__: f
    for f in (
        no_spare,
        no_headroom,
        headroom_added_instead_of_kept,
        rounds_down,
        rounds_to_nearest,
        returns_a_float,
        always_one_spare,
        headroom_on_the_target,
        forgets_return,
        memorised_examples,
        never_fewer_than_two,
        ignores_the_database,
        database_without_headroom,
        refuses_at_exactly_the_limit,
        zero_servers_for_a_bottleneck,
        value_error_for_a_bottleneck,
        truncates_capacity,
    )
}
