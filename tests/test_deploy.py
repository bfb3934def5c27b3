"""Rolling deploys: no failed request, a broken version rolled back on its own; a naive deploy fails requests."""

import pytest

from minicluster.cluster import Cluster
from minicluster.deploy import Deployer, healthy
from minicluster.experiment import under_faults
from minicluster.load import UniformKeys, open_loop
from minicluster.web import Response, Router


def version(name: str, *, broken: bool = False) -> Router:
    def handler(request, ctx):
        if broken:
            return Response.json({"error": "bad config"}, 500)
        return Response.json({"version": name})

    return Router().route("GET", "/healthz", handler).route("GET", "/users/{id}", handler)


def deploy_under_load(how: str, new: Router):
    with Cluster(seed=1) as cluster:
        servers = [
            cluster.add_web_server(f"web{i}", version("v1"), host=f"web{i}", workers=2, service_time=0.01)
            for i in range(1, 4)
        ]
        lb = cluster.add_load_balancer("lb", servers, health_check=False)
        cluster.expose("api.mysite.com", lb)
        client = cluster.client()
        deployer = Deployer(cluster, lb)
        reports = []

        def deploy():
            reports.append(getattr(deployer, how)(servers, new, "v2"))

        result, _ = under_faults(
            cluster,
            lambda: open_loop(lambda k: client.get(f"http://api.mysite.com/users/{k}"), rate=150, duration=1.0,
                              keys=UniformKeys(100), seed=1),
            [(0.2, deploy)],
        )  # fmt: skip
        versions = sorted({client.get("http://api.mysite.com/users/1").data().get("version") for _ in range(6)})
        return result, reports[0], versions


def test_a_rolling_deploy_replaces_every_server_and_fails_no_request():
    result, report, versions = deploy_under_load("rolling", version("v2"))
    assert result.errors == 0 and not report.rolled_back
    assert versions == ["v2"] and all("-v2-" in s.name for s in report.servers)


def test_a_naive_deploy_fails_requests():
    result, report, versions = deploy_under_load("naive", version("v2"))
    assert result.errors > 0 and versions == ["v2"]


def test_a_broken_version_is_stopped_before_it_takes_traffic_and_nothing_changes():
    result, report, versions = deploy_under_load("rolling", version("v2", broken=True))
    assert report.rolled_back and "failed its health check" in report.reason
    assert result.errors == 0 and versions == ["v1"]


def test_health_needs_every_probe_to_pass():
    with Cluster(seed=1) as cluster:
        good = cluster.add_web_server("good", version("v1"))
        bad = cluster.add_web_server("bad", version("v1", broken=True))
        assert healthy(good) and not healthy(bad)
        cluster.nemesis.crash(good)
        assert not healthy(good)
        with pytest.raises(Exception, match="probes must be an integer > 0"):
            Deployer(cluster, cluster.add_load_balancer("lb", [], health_check=False), probes=0)
