import pytest

from minicluster import Cluster
from minicluster.errors import ConfigError
from minicluster.posts import PostsSpec, ShardedPosts, generate
from minicluster.sharding import DirectoryRouter, ModuloRouter
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


def test_rows_read_per_page_fixed_and_adaptive():
    reads = sharding.rows_read_per_page((2, 8), posts=3000, page_size=10, pages=3, seed=1)
    # Every shard has far more than 15 rows, so a fixed fetch reads exactly what it asks for.
    assert reads["PAGE_SIZE+5 (the notes' sketch)"] == [30.0, 120.0]
    assert reads["PAGE_SIZE+1"] == [22.0, 88.0]
    adaptive = reads["adaptive"]
    assert adaptive[0] <= 22.0 and adaptive[1] < 0.6 * 88.0
    assert all(a >= 11 for a in adaptive), "a page of 10 plus the look-ahead row needs at least 11 rows"


def _walk(fetch, store, size, direction, check=None):
    """Every page through ``fetch`` (a page plus its look-ahead row); ``check(after, page)`` sees each."""
    after, walked = None, []
    while True:
        page = fetch(store.shards, after, size, direction)
        if check:
            check(after, page)
        walked.extend(page[:size])
        if len(page) <= size:
            return walked
        after = page[size - 1].key


def _skewed_store(cluster, shards, populated, posts):
    store = ShardedPosts(
        cluster, shards, router=DirectoryRouter(ModuloRouter(shards), {u: u % populated for u in range(1, 41)})
    )
    store.load(posts)
    return store


def test_adaptive_fetch_returns_exactly_the_fixed_fetch_pages_on_skewed_and_empty_shards():
    posts = generate(PostsSpec(posts=400, users=30, celebrities=1, celebrity_share=0.9, seed=5))
    with Cluster(seed=5) as cluster:
        store = _skewed_store(cluster, 6, 3, posts)
        for direction in ("newest", "oldest"):

            def same_as_fixed(after, page, direction=direction):
                assert page == sharding.fixed_fetch(store.shards, after, 7, direction, 1)

            walked = _walk(sharding.adaptive_fetch, store, 7, direction, same_as_fixed)
            assert walked == store.all_posts(direction)


def test_adaptive_fetch_carrying_shares_returns_the_fixed_fetch_pages_and_counts_each_shards_rows():
    posts = generate(PostsSpec(posts=400, users=30, celebrities=1, celebrity_share=0.9, tie_share=0.3, seed=5))
    with Cluster(seed=5) as cluster:
        store = _skewed_store(cluster, 6, 3, posts)
        for direction in ("newest", "oldest"):
            after, shares, walked = None, None, []
            while True:
                fetched = sharding.adaptive_fetch(store.shards, after, 7, direction, shares)
                assert fetched == sharding.fixed_fetch(store.shards, after, 7, direction, 1)
                # each row counted once, on the shard that holds it (3 of the 6 shards are empty)
                assert sum(fetched.shares) == len(fetched) and fetched.shares[3:] == [0, 0, 0]
                assert fetched.shares == [
                    sum(1 for p in fetched if store.shard_of(p.user_id) is s) for s in store.shards
                ]
                walked.extend(fetched[:7])
                if len(fetched) <= 7:
                    break
                after, shares = fetched[6].key, fetched.shares
            assert walked == store.all_posts(direction)


def test_the_cursors_shares_read_fewer_rows_in_fewer_queries_than_the_even_share():
    costs = sharding.fetch_costs((8, 16), posts=3000, pages=5, seed=2)
    even, hinted = costs["adaptive"], costs[sharding.HINTED]
    assert all(h < e for h, e in zip(hinted["rows"], even["rows"])), (hinted, even)
    assert all(h <= e for h, e in zip(hinted["queries"], even["queries"])), (hinted, even)


@pytest.mark.parametrize("shares", [[1, 2], [1, 2, -1], [1, 2, 2.5], [True, 1, 1], "123", 3])
def test_adaptive_fetch_rejects_shares_that_are_not_a_count_per_shard(shares):
    with Cluster(seed=5) as cluster:
        store = ShardedPosts(cluster, 3)
        with pytest.raises(ConfigError, match="shares must be 3 whole numbers") as error:
            sharding.adaptive_fetch(store.shards, None, 5, "newest", shares)
        assert repr(shares) in str(error.value)


def test_the_proxy_turns_refusals_into_waiting():
    run = sharding.proxy_experiment(requests=200, concurrency=100, max_connections=10, pool_size=5, query_time=0.01)
    direct, proxied = run.loads["straight to the database"], run.loads["through the proxy"]
    waits = run["waits"]
    assert run.column("refused") == [direct.errors, 0]
    # The 100 app servers send their first request together: at least 90 of those find the 10 slots taken.
    assert direct.errors >= 90 and set(direct.error_kinds) == {"TooManyConnections"}
    assert proxied.errors == 0 and proxied.completed == 200
    assert waits.count == 200


def test_heat_map_counts_every_post_once_per_shard_and_time():
    posts = generate(PostsSpec(posts=2000, users=300, celebrities=2, seed=4))
    grid = sharding.load_heat_map(posts, ModuloRouter(5), buckets=10)
    assert len(grid) == 5 and all(len(row) == 10 for row in grid)
    assert sum(map(sum, grid)) == 2000
    assert [sum(row) for row in grid] == sharding.posts_per_shard(posts, ModuloRouter(5))


def test_resharding_moves_far_fewer_rows_with_consistent_hashing():
    moved = sharding.reshard_experiment(posts=2000, shards=4, seed=3)
    fraction = {name: m / total for name, (m, total) in moved.figures.items()}
    assert moved.column("moved %") == list(fraction.values())
    assert fraction["modulo"] > 0.6
    assert fraction["ring (100 vnodes)"] < 0.35 and fraction["jump hash"] < 0.35


def test_one_row_at_a_time_is_the_floor_and_agrees_with_the_other_strategies():
    costs = sharding.fetch_costs(
        (3, 6),
        posts=2000,
        page_size=10,
        pages=3,
        seed=2,
        strategies={**sharding.STRATEGIES, "floor": sharding.one_row_at_a_time},
    )
    # fetch_costs raises if the strategies disagree on a page; the floor reads the page, its look-ahead
    # row and one row from each other shard, one query per row.
    assert costs["floor"]["rows"] == [11 + 2, 11 + 5]
    assert costs["floor"]["queries"] == costs["floor"]["rows"]
    for name in sharding.STRATEGIES:
        assert all(r >= f for r, f in zip(costs[name]["rows"], costs["floor"]["rows"]))
    assert costs["PAGE_SIZE+1"]["queries"] == [3, 6]


def test_one_row_at_a_time_walks_a_store_with_empty_and_exhausted_shards_in_both_directions():
    posts = generate(PostsSpec(posts=60, users=12, celebrities=1, tie_share=0.4, seed=6))
    with Cluster(seed=6) as cluster:
        store = _skewed_store(cluster, 5, 2, posts)
        for direction in ("newest", "oldest"):
            assert _walk(sharding.one_row_at_a_time, store, 4, direction) == store.all_posts(direction)


def test_build_routes_each_user_to_the_shard_the_diagram_links():
    posts = generate(PostsSpec(posts=300, users=20, seed=8))
    with Cluster(seed=8) as cluster:
        stage = sharding.build(cluster, shards=3, posts=posts)
        response = stage.target()(7)
        assert response.status == 200
        body = response.data()
        assert body["shard"] == stage.store.router.shard_for(7)
        mine = sorted((p for p in posts if p.user_id == 7), key=lambda p: p.key, reverse=True)[:20]
        assert [p["id"] for p in body["posts"]] == [p.post_id for p in mine]
        assert stage.target()(0).status == 200 and stage.target()(0).data()["posts"] == []
        links = {(a, b) for a, b, _ in cluster.links}
        assert {("web", f"shard{i}") for i in range(3)} <= links
        cluster.nemesis.crash(stage.store.shards[1].node)
        assert "shard1 (database, down)" in stage.diagram().text


def test_hot_users_are_found_by_measuring_and_a_measured_directory_evens_storage_not_reads():
    from minicluster.posts import START, Post

    # user 9 is nobody's idea of a celebrity, and writes the most
    posts = [Post(i, 9 if i % 2 else 1 + i % 7, START, "") for i in range(1, 401)]
    assert sharding.hot_users(posts, 1) == [(9, 200)]
    directory = sharding.measured_directory(posts, 4)
    stored = sharding.posts_per_shard(posts, directory)
    assert sum(stored) == 400 and max(stored) == 200, "the heaviest user alone fills a shard, nothing joins it"
    assert directory.shard_for(9) == 0 and stored.count(0) == 0
    by_id = sharding.posts_per_shard(posts, ModuloRouter(4))
    assert max(stored) <= max(by_id)
    reads = sharding.reads_per_shard(posts, directory, reads=2_000, celebrity_share=0.5, seed=1)
    assert sum(reads) == 2_000 and reads[0] > 0.7 * 2_000, "half the reads, plus its share of the rest"


def test_the_measured_directory_evens_the_generated_feed():
    posts = generate(PostsSpec(posts=4_000, users=400, celebrities=3, seed=3))
    stored = sharding.posts_per_shard(posts, sharding.measured_directory(posts, 8))
    ((heaviest, most),) = sharding.hot_users(posts, 1)
    # no shard holds more than the heaviest user alone (who cannot be split) or 5% over the mean
    assert max(stored) <= max(most, 1.05 * sum(stored) / 8)
    plain = sharding.posts_per_shard(posts, ModuloRouter(8))
    assert max(plain) / (sum(plain) / 8) > 1.5


def test_a_streaming_merge_pushes_a_row_per_shard_and_per_row_taken_where_add_all_pushes_every_row():
    work = sharding.heap_work((2, 8), page_size=20)
    assert work.column("heap.addAll pushes") == [42, 168]
    assert work.column("streaming merge pushes") == [22, 28]


def test_a_proxy_routes_writes_to_the_primary_and_reads_over_the_replicas():
    routed = sharding.read_write_routing(statements=50, write_share=0.2, replicas=2, seed=3)
    primary, one, two = routed.rows
    assert primary["statements"] == primary["rows written"] > 0, "the primary gets the writes, and only them"
    assert one["rows written"] == two["rows written"] == 0
    assert abs(one["statements"] - two["statements"]) <= 1, "reads go to the replicas in turn"
    assert primary["statements"] + one["statements"] + two["statements"] == 50
    assert routed["read_back"] is False, "nobody copies to these replicas: read-after-write misses"


def test_a_range_on_time_sends_every_recent_write_to_the_last_shard():
    posts = generate(PostsSpec(posts=2_000, users=200, celebrities=1, seed=4))
    recent = sharding.recent_writes_per_shard(posts, 4, recent_days=3)
    assert recent["range of days"][:3] == [0, 0, 0] and recent["range of days"][3] > 0
    assert sum(recent["hash of user id"]) == sum(recent["range of days"])
    assert sum(c > 0 for c in recent["hash of user id"]) == 4
