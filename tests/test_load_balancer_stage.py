from minicluster import Cluster
from minicluster.balancers import POLICIES
from minicluster.stages import load_balancer


def test_only_the_balancer_is_public():
    with Cluster(seed=1) as c:
        stage = load_balancer.build(c, servers=3, health_check=False)
        (address,) = c.dns.records()["api.mysite.com"]
        assert c.node_at(address) is stage.lb
        assert all(w.address.startswith("10.") for w in stage.webs)
        target = stage.target()
        assert all(target(k).status == 200 for k in range(1, 7))
        assert [w.metrics.counter("requests").value for w in stage.webs] == [2, 2, 2]
        stage.add_server()
        assert [b.name for b in stage.lb.backends] == ["web1", "web2", "web3", "web4"]


def test_least_connections_routes_around_the_slow_server():
    policies = {name: POLICIES[name] for name in ("round robin", "least connections")}
    runs = load_balancer.compare_policies(policies=policies, rate=150, duration=0.6)
    rr, lc = runs["round robin"], runs["least connections"]
    assert rr.share["web1"] >= sum(rr.share.values()) // 4, "round robin gives the slow server its full share"
    assert lc.share["web1"] < rr.share["web1"]
    assert lc.result.latency.percentile(99) < rr.result.latency.percentile(99) / 2
    assert "least connections" in load_balancer.policy_table(runs)


def test_failover_errors_stop_at_the_ejection():
    result, events = load_balancer.failover(rate=150, duration=1.2, kill_at=0.3, recover_at=0.7)
    actions = [e.action for e in events]
    assert actions.index("crash") < actions.index("eject") < actions.index("recover") < actions.index("readmit")
    eject = next(e.at for e in events if e.action == "eject")
    assert all(result.started_at + t <= eject + 0.05 for t, _ in result.failures.points)
