import collections

import pytest

from minicluster import Cluster
from minicluster.errors import ConfigError, NodeDown
from minicluster.posts import Post, PostsSpec, ShardedPosts, generate
from minicluster.sharding import ModuloRouter, RingRouter

SPEC = PostsSpec(posts=3000, users=200, celebrities=2, seed=7)


@pytest.fixture(scope="module")
def posts():
    return generate(SPEC)


@pytest.fixture
def store(posts):
    with Cluster(seed=7) as cluster:
        s = ShardedPosts(cluster, 4)
        s.load(posts)
        yield s


def test_generation_is_seeded_sorted_and_unique(posts):
    assert generate(SPEC) == posts
    assert generate(PostsSpec(posts=3000, users=200, celebrities=2, seed=8)) != posts
    assert [p.key for p in posts] == sorted(p.key for p in posts)
    assert len({p.post_id for p in posts}) == len(posts)
    assert all(p.created_at.utcoffset().total_seconds() == 0 for p in posts)


def test_data_set_has_ties_and_celebrities(posts, store):
    by_time = collections.defaultdict(list)
    for p in posts:
        by_time[p.created_at].append(p)
    tied = [group for group in by_time.values() if len(group) > 1]
    assert sum(len(g) for g in tied) > 0.2 * len(posts)
    shards_of = lambda group: {store.router.shard_for(p.user_id) for p in group}  # noqa: E731
    assert any(len(shards_of(g)) > 1 for g in tied), "ties across shards"
    per_shard = lambda group: collections.Counter(store.router.shard_for(p.user_id) for p in group)  # noqa: E731
    assert any(max(per_shard(g).values()) > 1 for g in tied), "ties within a shard"
    authors = collections.Counter(p.user_id for p in posts)
    celebrity_posts = authors[1] + authors[2]
    assert 0.2 * len(posts) < celebrity_posts < 0.4 * len(posts)


def test_shards_partition_the_posts_by_user(posts, store):
    counts = [s.node.execute("SELECT count(*) FROM posts")[0][0] for s in store.shards]
    assert sum(counts) == len(posts)
    for shard in store.shards:
        users = {row[0] for row in shard.node.execute("SELECT DISTINCT user_id FROM posts")}
        assert all(store.router.shard_for(u) == shard.index for u in users)
    assert store.all_posts("oldest") == posts
    assert store.all_posts("newest") == posts[::-1]


@pytest.mark.parametrize("direction", ["newest", "oldest"])
def test_keyset_walk_of_one_shard_returns_it_whole_in_order(store, direction):
    shard = store.shards[1]
    expected = [p for p in store.all_posts(direction) if store.router.shard_for(p.user_id) == 1]
    queries, all_queries = shard.queries, store.shards.queries  # creating and loading the shards counts too
    walked, after = [], None
    while True:
        page = shard.fetch(after, direction, 7)
        walked.extend(page)
        if len(page) < 7:
            break
        after = page[-1].key
    assert walked == expected
    assert shard.rows_read == len(expected)
    assert shard.queries - queries == len(expected) // 7 + 1  # one round trip per page, the last one short
    assert store.shards.queries - all_queries == shard.queries - queries
    assert store.shards.rows_read == shard.rows_read


def test_rows_read_behind_the_shards_back_are_counted_too(store):
    """A paginator that reads through its own connection cannot hide its reads (found by a learner)."""
    shard = store.shards[1]
    before = shard.rows_read
    with shard.node.connect() as conn:
        rows = conn.execute("SELECT * FROM posts").fetchall()
        first = conn.execute("SELECT * FROM posts LIMIT 3")
        assert len(list(first)) == 3
    assert rows and shard.rows_read - before == len(rows) + 3
    with shard.node.connect() as conn, pytest.raises(AttributeError, match="fetchall"):
        conn.execute("SELECT * FROM posts").fetchdf()


def test_fetch_is_strictly_after_the_key_within_a_tie(store):
    shard = max(store.shards, key=lambda s: s.node.execute("SELECT count(*) FROM posts")[0][0])
    rows = shard.fetch(None, "oldest", 10_000)
    tie = next(
        (a, b) for a, b in zip(rows, rows[1:]) if a.created_at == b.created_at
    )  # two posts with the same created_at, in post_id order
    after_first = shard.fetch(tie[0].key, "oldest", 1)
    assert after_first == [tie[1]]
    assert shard.fetch(tie[1].key, "newest", 1) == [tie[0]]


@pytest.mark.parametrize("direction", ["newest", "oldest"])
def test_fetch_until_stops_strictly_before_a_key_within_a_tie(store, direction):
    shard = max(store.shards, key=lambda s: s.node.execute("SELECT count(*) FROM posts")[0][0])
    rows = shard.fetch(None, direction, 10_000)
    i = next(i for i in range(1, len(rows) - 1) if rows[i].created_at == rows[i + 1].created_at)  # a tie
    assert shard.fetch(None, direction, 10_000, until=rows[i + 1].key) == rows[: i + 1]
    assert shard.fetch(rows[0].key, direction, 10_000, until=rows[i + 1].key) == rows[1 : i + 1]
    assert shard.fetch(rows[0].key, direction, 2, until=rows[i + 1].key) == rows[1:3]  # the limit still holds
    assert shard.fetch(rows[i].key, direction, 5, until=rows[i + 1].key) == []  # nothing strictly between


def test_fetch_inputs_and_a_down_shard(store):
    shard = store.shards[0]
    assert shard.fetch(None, "newest", 0) == []
    with pytest.raises(ConfigError, match="'sideways'"):
        shard.fetch(None, "sideways", 5)
    with pytest.raises(ConfigError, match="limit must be an integer from 0 to 10,001, got -1"):
        shard.fetch(None, "newest", -1)
    shard.node.crash()
    with pytest.raises(NodeDown, match="shard0"):
        shard.fetch(None, "newest", 5)


def test_insert_and_delete_reach_the_shard_and_the_ground_truth(store, posts):
    newest = posts[-1]
    post = Post(newest.post_id + 1, 5, newest.created_at, "fresh")
    store.insert(post)
    assert store.shard_of(5).fetch(None, "newest", 1) == [post]
    assert store.all_posts()[0] == post
    store.delete(post)
    assert post not in store.all_posts()


def test_load_without_the_ground_truth(posts):
    with Cluster(seed=3) as cluster:
        store = ShardedPosts(cluster, 3)
        store.load(posts, truth=False)
        assert sum(s.node.execute("SELECT count(*) FROM posts")[0][0] for s in store.shards) == len(posts)
        assert store.all_posts() == []


def test_router_must_match_the_shard_count():
    with Cluster() as cluster:
        with pytest.raises(ConfigError, match="router knows 3 shards, but 4"):
            ShardedPosts(cluster, 4, router=RingRouter(3))
    with pytest.raises(ConfigError, match="celebrities"):
        PostsSpec(users=2, celebrities=3)


def test_resharding_moves_the_rows_and_counts_them(posts):
    with Cluster(seed=9) as cluster:
        store = ShardedPosts(cluster, 3)
        store.load(posts)
        before = store.all_posts()
        moved, total = store.reshard(ModuloRouter(4))
        assert total == len(posts) and len(store.shards) == 4
        assert moved == sum(ModuloRouter(3).shard_for(p.user_id) != ModuloRouter(4).shard_for(p.user_id) for p in posts)
        for shard in store.shards:
            users = {u for (u,) in shard.node.execute("SELECT DISTINCT user_id FROM posts")}
            assert all(ModuloRouter(4).shard_for(u) == shard.index for u in users)
        assert sum(s.node.execute("SELECT count(*) FROM posts")[0][0] for s in store.shards) == len(posts)
        assert store.all_posts() == before
        with pytest.raises(ConfigError, match="resharding only grows"):
            store.reshard(ModuloRouter(2))
