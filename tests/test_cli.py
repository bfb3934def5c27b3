"""The learner's terminal loop, run in a copy of the workbook so the real exercises stay untouched."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from minicluster.workbook import exercises, stages
from minicluster.workbook.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def status_rows(out):
    """The table of ``minicluster status`` as lists of cells (columns are two or more spaces apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.startswith("  ")]


def solve(workbook, path):
    shutil.copyfile(workbook / "solutions" / path, workbook / "exercises" / path)


def test_status_starts_with_nothing_attempted(workbook, capsys):
    code, out, _ = run(capsys, "status")
    assert code == 0
    rows = status_rows(out)
    assert [r[0] for r in rows] == [e.id for e in exercises()]
    assert rows[0] == ["01.handler", "not attempted", "hints 0/4"]
    assert rows[1] == ["01.capacity", "not attempted", "hints 0/5"]
    assert all(r[1] == "not attempted" for r in rows)
    headers = [line for line in out.splitlines() if line.startswith("Stage ")]
    assert headers == [f"Stage {s.number} — {s.title}" + ("" if s.ready else " (planned)") for s in stages()]
    assert out.rstrip().endswith(f"0/{len(rows)} exercises passed")


def test_check_stub_then_solution_then_solution_unlocks(workbook, capsys):
    code, out, _ = run(capsys, "check", "01.handler")
    assert code == 1
    assert "01.handler: not attempted yet" in out and "exercises/01_single_server/handler.py" in out
    code, out, _ = run(capsys, "solution", "01.handler")
    assert code == 1 and "opens once you pass it" in out and "def get_user" not in out

    solve(workbook, "01_single_server/handler.py")
    code, out, _ = run(capsys, "check", "01.handler")
    assert code == 0
    assert "✅ 01.handler: passed" in out and "solution unlocked" in out
    code, out, _ = run(capsys, "solution", "01.handler")
    assert code == 0 and "def get_user" in out
    code, out, _ = run(capsys, "status")
    assert status_rows(out)[0][:2] == ["01.handler", "passed"]
    assert f"1/{len(exercises())} exercises passed" in out
    assert (workbook / ".minicluster" / "progress.json").is_file()


def test_check_all_reports_each_in_order(workbook, capsys):
    solve(workbook, "01_single_server/capacity.py")
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert out.index("01.handler: not attempted") < out.index("01.capacity: passed")


def test_hints_come_one_more_at_a_time(workbook, capsys):
    outputs = [run(capsys, "hint", "01.handler")[1] for _ in range(5)]
    assert "hint 1/4:" in outputs[0] and "hint 2/4:" not in outputs[0]
    assert "hint 2/4:" in outputs[1] and "hint 1/4:" in outputs[1]
    assert "that was the last hint" in outputs[3]
    assert outputs[4] == outputs[3]
    assert "hints 4/4" in run(capsys, "status")[1]


def test_reset_restores_the_stub_and_keeps_the_learners_version(workbook, capsys):
    target = workbook / "exercises" / "01_single_server" / "handler.py"
    stub = target.read_text()
    target.write_text("def get_user(request, db):\n    return 'my work'\n")
    code, out, _ = run(capsys, "reset", "01.handler")
    assert code == 0 and "saved as .minicluster/backups/01.handler-1.py" in out
    assert target.read_text() == stub
    assert "my work" in (workbook / ".minicluster" / "backups" / "01.handler-1.py").read_text()


def test_bad_input_is_one_line_with_exit_code_2(workbook, capsys):
    code, out, err = run(capsys, "check", "01.handlr")
    assert code == 2 and err == "minicluster: no exercise '01.handlr'; did you mean '01.handler'?\n"
    code, _, err = run(capsys, "tour", "--stage", "99")
    assert code == 2 and "no tour for stage 99" in err


def test_corrupt_progress_file_is_set_aside_and_every_copy_kept(workbook, capsys):
    state = workbook / ".minicluster" / "progress.json"
    state.parent.mkdir()
    for corrupt in ("{not json", '{"exercises": {"01.handler": "passed"}}', '["wrong", "shape"]'):
        state.write_text(corrupt)
        code, out, err = run(capsys, "status")
        assert code == 0 and f"0/{len(exercises())} exercises passed" in out
        assert "was unreadable; it is kept as progress.json.bad" in err
    kept = sorted(p.name for p in state.parent.glob("progress.json.bad*"))
    assert kept == ["progress.json.bad", "progress.json.bad-2", "progress.json.bad-3"]
    assert (state.parent / "progress.json.bad").read_text() == "{not json"


def test_an_unusable_progress_file_is_named_never_a_traceback(workbook, capsys):
    state = workbook / ".minicluster" / "progress.json"
    state.mkdir(parents=True)  # a directory where the file should be
    for command in (["status"], ["hint", "01.handler"], ["reset", "01.handler"]):
        code, _, err = run(capsys, *command)
        assert code == 2, command
        assert err.startswith("minicluster: cannot read the progress file") and "is a directory" in err


def test_reset_never_overwrites_an_earlier_backup(workbook, capsys):
    target = workbook / "exercises" / "01_single_server" / "handler.py"
    backups = workbook / ".minicluster" / "backups"
    for version in ("first", "second", "third"):
        target.write_text(f"# {version}\n")
        run(capsys, "reset", "01.handler")
        if version == "second":
            (backups / "01.handler-1.py").unlink()  # the learner tidies up one backup
    texts = sorted(p.read_text() for p in backups.glob("01.handler-*.py"))
    assert texts == ["# second\n", "# third\n"]


def test_console_script_runs_as_a_program(workbook):
    done = subprocess.run(
        [sys.executable, "-m", "minicluster", "status"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "01.handler" in done.stdout


def test_tour_prints_stage_one(capsys, monkeypatch):
    from minicluster.stages import single_server

    headline = single_server.headline
    monkeypatch.setattr(single_server, "headline", lambda: headline(duration=0.2))
    code, out, _ = run(capsys, "tour", "--stage", "1")
    assert code == 0
    assert "== Stage 1: Single server ==" in out
    assert "knee:" in out and "req/s" in out
    assert len([line for line in out.splitlines() if line.strip().split(" ")[0].isdigit()]) == 7


def test_servers_status_without_servers_says_so_and_up_names_what_is_missing(capsys, monkeypatch, tmp_path):
    from minicluster import servers

    monkeypatch.setenv("MINICLUSTER_CONFIG", str(tmp_path / "servers.json"))
    code, out, _ = run(capsys, "servers", "status")
    assert code == 0 and [line.split()[:3] for line in out.splitlines()] == [
        [name, "not", "answering"] for name in ("redis", "postgres", "pgbouncer")
    ]
    assert "not configured" in out
    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    monkeypatch.setattr(servers, "SBIN", ())
    code, _, err = run(capsys, "servers", "up", "--only", "redis")
    assert code == 2 and "redis-server is not installed" in err and "brew install redis" in err
    code, out, _ = run(capsys, "servers", "down")
    assert code == 0 and "nothing was running" in out


def test_check_refuses_an_unknown_engine(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_:
        main(["check", "01.handler", "--engine", "mysql"])
    assert exit_.value.code == 2 and "invalid choice: 'mysql'" in capsys.readouterr().err
