from minicluster.posts import PostsSpec, generate
from minicluster.sharding import ModuloRouter
from minicluster.stages import sharding


def test_moved_fractions_separate_modulo_from_consistent_schemes():
    moved = sharding.moved_when_adding_a_shard((4, 8), keys=4000)
    assert all(f > 0.7 for f in moved["modulo"])
    for name in ("ring (100 vnodes)", "jump hash"):
        assert all(f < 0.3 for f in moved[name])


def test_isolating_celebrities_lowers_the_hottest_shard():
    posts = generate(PostsSpec(posts=5000, users=500, celebrities=3, seed=3))
    plain = sharding.posts_per_shard(posts, ModuloRouter(8))
    mitigated = sharding.posts_per_shard(posts, sharding.celebrity_mitigation(posts, 8, [1, 2, 3]))
    assert sum(plain) == sum(mitigated) == 5000
    assert max(mitigated) < max(plain)


def test_rows_read_per_page_is_shards_times_the_per_shard_fetch():
    reads = sharding.rows_read_per_page((2, 4), extra=(5, 1), posts=3000, page_size=10, pages=3, seed=1)
    # Every shard has far more than 15 rows, so each sends exactly what it is asked for.
    assert reads == {"PAGE_SIZE+5": [30.0, 60.0], "PAGE_SIZE+1": [22.0, 44.0]}


def test_the_proxy_turns_refusals_into_waiting():
    runs, waits = sharding.proxy_experiment(
        requests=200, concurrency=100, max_connections=10, pool_size=5, query_time=0.01
    )
    direct, proxied = runs["straight to the database"], runs["through the proxy"]
    assert direct.errors > 0 and set(direct.error_kinds) == {"TooManyConnections"}
    assert proxied.errors == 0 and proxied.completed == 200
    assert waits.count == 200
