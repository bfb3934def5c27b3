from minicluster import Cluster
from minicluster.experiment import Run, sweep
from minicluster.load import LoadResult, closed_loop
from minicluster.viz import plot_sweep, plot_timeline


def test_diagram_shows_topology_and_health(echo_router):
    with Cluster() as c:
        db = c.add_database("db", host="server1")
        web = c.add_web_server("web", echo_router, host="server1", database=db, workers=3)
        c.expose("api.mysite.com", web)
        before = c.diagram()
        c.nemesis.crash(db)
        after = c.diagram("after")
        bundle = after._repr_mimebundle_()
        assert set(bundle) == {"text/vnd.mermaid", "text/plain"}
        assert 'subgraph n_host_server1["host server1"]' in before.mermaid
        assert 'n_web -->|"SQL"| n_db' in before.mermaid
        assert "style n_db fill:#d8f0dc" in before.mermaid
        assert "style n_db fill:#f8d4d4" in after.mermaid
        assert "db (database, down)" in after.text
        assert "web · 3 workers · up" in after.mermaid
        assert after.mermaid.startswith('---\nconfig:\n  handDrawnSeed: 1\ntitle: "after"\n---\n')


def test_titles_with_colons_and_quotes_stay_valid_front_matter():
    """JupyterLab parses the front matter as YAML: 'Stage 1: one server' unquoted is an error box."""
    import yaml

    title = 'Stage 1: one server, "quoted" \\ and a backslash'
    with Cluster() as c:
        c.add_database("db")
        mermaid = c.diagram(title).mermaid
    front = mermaid.split("---\n")[1]
    assert yaml.safe_load(front) == {"config": {"handDrawnSeed": 1}, "title": title}


def test_plots_carry_the_measurements(echo_router):
    with Cluster(latency=0.0) as c:
        web = c.add_web_server("web", echo_router)
        c.expose("a.b", web)
        client = c.client()
        results = [closed_loop(lambda k: client.get("http://a.b/echo/x"), users=u, requests_per_user=5) for u in (1, 2)]
        c.nemesis.crash(web)
        down = closed_loop(lambda k: client.get("http://a.b/echo/x"), users=1, requests_per_user=3)
    fig = plot_sweep(sweep("two loads", "users", [1, 2], results, ceiling=500))
    left, right = fig.axes
    assert list(left.lines[0].get_ydata()) == [r.throughput for r in results]
    assert len(right.lines) >= 2
    assert any(list(line.get_ydata()) == [500, 500] for line in left.lines), "the ceiling is drawn"
    timeline = plot_timeline(down, faults=c.nemesis.events)
    assert down.error_kinds == {"NodeDown": 3}
    assert len(timeline.axes) == 2
    assert max(timeline.axes[1].lines[0].get_ydata()) == 100.0


def test_percentile_bars_show_each_run():
    from minicluster.load import LoadResult
    from minicluster.viz import plot_percentiles

    fast, slow = LoadResult("fast", 1.0), LoadResult("slow", 1.0)
    for _ in range(100):
        fast.latency.record(0.01)
        slow.latency.record(1.0)
    fig = plot_percentiles({"fast": fast, "slow": slow})
    (ax,) = fig.axes
    heights = [round(bar.get_height()) for bar in ax.patches]
    assert heights == [10, 1000, 10, 1000]  # p50 bars, then p99 bars
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fast", "slow"]


def test_every_run_plots_by_its_chart():
    result = LoadResult("x", 1.0)
    result.latency.record(0.01)
    lines = Run("moved", [{"N": 2, "a %": 0.5, "b %": 0.25}, {"N": 3, "a %": 0.6, "b %": 0.2}], axes={"percent": True})
    fig = lines.plot()
    assert [list(line.get_ydata()) for line in fig.axes[0].lines] == [[50.0, 60.0], [25.0, 20.0]]
    bars = Run("bars", [{"server": "web1", "served": 3}, {"server": "web2", "served": 0}], chart="bars")
    assert [p.get_height() for p in bars.plot().axes[0].patches] == [3, 0]
    assert Run("p", loads={"only": result}, chart="percentiles").plot().axes
    rows = [{"t": 1, "load": 5, "a": 1, "b": 2}, {"t": 2, "load": 9, "a": 2, "b": 3}]
    panels = Run("panels", rows, chart="panels", axes={"x": "t", "panels": [["load"], ["a", "b"]]}).plot()
    assert [[list(line.get_ydata()) for line in ax.lines] for ax in panels.axes] == [[[5, 9]], [[1, 2], [2, 3]]]
    assert Run("t", loads={"only": result}, chart="timeline").plot(latency=True).axes


def test_timeline_labels_close_in_time_do_not_overlap_and_a_clean_run_says_no_errors():
    from minicluster.timeline import Event

    result = LoadResult("clean", 2.0, started_at=100.0)
    for i in range(40):
        result.completions.add(i * 0.05)
    events = [
        Event(100.80, "fault", "crash", "web2", "nemesis"),
        Event(100.90, "reaction", "eject", "web2", "lb"),
        Event(101.60, "heal", "recover", "web2", "nemesis"),
        Event(101.79, "reaction", "readmit", "web2", "lb"),
    ]
    fig = plot_timeline(result, faults=events)
    labels = {a.get_text(): a.xy for a in fig.axes[0].texts}
    assert set(labels) == {"crash web2", "eject web2", "recover web2", "readmit web2"}
    assert labels["crash web2"][1] != labels["eject web2"][1], "0.1 s apart on a 2 s axis: staggered"
    assert labels["recover web2"][1] != labels["readmit web2"][1]
    assert labels["crash web2"][1] == labels["recover web2"][1], "far apart: back on the first row"
    errors = fig.axes[1]
    assert errors.get_ylim() == (0.0, 5.0)
    assert [t.get_text() for t in errors.texts] == ["no errors"]
