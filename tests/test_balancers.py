import collections
import threading

import pytest

from minicluster.balancers import (
    POLICIES,
    Backend,
    ConsistentHash,
    LeastConnections,
    NoHealthyBackend,
    PowerOfTwoChoices,
    RandomChoice,
    RoundRobin,
    WeightedRoundRobin,
    as_policy,
)
from minicluster.errors import ConfigError
from minicluster.web import Request


def backends(n=3, **weights):
    return [Backend(f"web{i}", weights.get(f"web{i}", 1)) for i in range(1, n + 1)]


def request(client="c1"):
    return Request("GET", "/", client=client)


def pick(policy, pool, n, release=True, client="c1"):
    names = []
    for _ in range(n):
        b = policy.choose(pool, request(client))
        names.append(b.name)
        if release and hasattr(policy, "release"):
            policy.release(b, request(client))
    return names


@pytest.mark.parametrize("name", list(POLICIES))
def test_every_policy_skips_ejected_backends_and_raises_when_none_left(name):
    pool = backends(4)
    pool[1].healthy = False
    policy = POLICIES[name]()
    chosen = {pick(policy, pool, 1, client=f"u{i}")[0] for i in range(200)}
    assert "web2" not in chosen
    assert len(chosen) >= 1
    for b in pool:
        b.healthy = False
    with pytest.raises(NoHealthyBackend, match="no healthy backend among 4: web1, web2, web3, web4"):
        policy.choose(pool, request())


@pytest.mark.parametrize("name", list(POLICIES))
def test_every_policy_is_safe_under_concurrent_picks(name):
    pool = backends(4)
    policy = POLICIES[name]()
    start = threading.Barrier(8)
    counts = collections.Counter()
    lock = threading.Lock()
    errors = []

    def work(t):
        try:
            start.wait()
            for i in range(500):
                b = policy.choose(pool, request(f"u{t}-{i}"))
                with lock:
                    counts[b.name] += 1
                if hasattr(policy, "release"):
                    policy.release(b, request())
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(counts.values()) == 4000
    if hasattr(policy, "in_flight"):
        assert all(policy.in_flight(b) == 0 for b in pool), "every choose was released"


def test_round_robin_cycles_over_healthy_backends():
    pool = backends(3)
    assert pick(RoundRobin(), pool, 6) == ["web1", "web2", "web3"] * 2
    pool[1].healthy = False
    assert pick(RoundRobin(), pool, 4) == ["web1", "web3", "web1", "web3"]


def test_weighted_round_robin_is_smooth_and_proportional():
    pool = backends(3, web1=5)
    assert pick(WeightedRoundRobin(), pool, 7) == ["web1", "web1", "web2", "web1", "web3", "web1", "web1"]
    assert collections.Counter(pick(WeightedRoundRobin(), pool, 700)) == {"web1": 500, "web2": 100, "web3": 100}


def test_random_is_seeded():
    pool = backends(5)
    assert pick(RandomChoice(seed=3), pool, 30) == pick(RandomChoice(seed=3), pool, 30)
    assert pick(RandomChoice(seed=3), pool, 30) != pick(RandomChoice(seed=4), pool, 30)


def test_least_connections_follows_requests_in_progress():
    pool = backends(3)
    policy = LeastConnections()
    held = [policy.choose(pool, request()) for _ in range(3)]
    assert [b.name for b in held] == ["web1", "web2", "web3"]
    policy.release(held[1], request())
    assert policy.choose(pool, request()).name == "web2"


def test_power_of_two_choices_prefers_the_less_busy_of_two():
    pool = backends(2)
    policy = PowerOfTwoChoices(seed=1)
    busy = policy.choose(pool, request())
    # With two backends both are always sampled, so the idle one must win.
    assert policy.choose(pool, request()) is not busy


def test_consistent_hash_is_sticky_and_moves_only_the_ejected_clients():
    pool = backends(4)
    policy = ConsistentHash()
    before = {f"user{i}": policy.choose(pool, request(f"user{i}")).name for i in range(400)}
    assert all(policy.choose(pool, request(c)).name == b for c, b in before.items()), "same client, same server"
    assert len(set(before.values())) == 4
    pool[2].healthy = False
    after = {c: policy.choose(pool, request(c)).name for c in before}
    moved = {c for c in before if before[c] != after[c]}
    assert moved == {c for c, b in before.items() if b == "web3"}
    pool[2].healthy = True
    assert {c: policy.choose(pool, request(c)).name for c in before} == before, "they come back when it does"


def test_consistent_hash_follows_added_and_removed_backends():
    policy = ConsistentHash()
    pool = backends(3)
    before = {f"u{i}": policy.choose(pool, request(f"u{i}")).name for i in range(300)}
    grown = [*pool, Backend("web4")]
    after = {c: policy.choose(grown, request(c)).name for c in before}
    assert {after[c] for c in before if after[c] != before[c]} == {"web4"}


def test_plain_functions_are_policies():
    policy = as_policy(lambda pool, req: pool[-1])
    assert policy.choose(backends(3), request()).name == "web3"
    with pytest.raises(ConfigError, match="choose"):
        as_policy(42)
