"""Output directories: staged, swapped in on success, untouched on failure, Ctrl-C and concurrent runs."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmenv import outdir
from mmenv.outdir import MARKER, OutputDirError, atomic_write_text, staged

ROOT = Path(__file__).resolve().parents[1]


def _files(d: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(d.iterdir())}


def _siblings(d: Path) -> list[str]:
    return sorted(p.name for p in d.parent.iterdir())


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_success_replaces_the_whole_directory(exchange, tmp_path, monkeypatch):
    if not exchange:
        monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    out = tmp_path / "res"
    with staged(out, command="test") as stage:
        atomic_write_text(stage / "report.md", "first")
        atomic_write_text(stage / "figure_naive.png", "old figure")
        assert not out.exists()  # nothing visible before the swap
    assert json.loads((out / MARKER).read_text())["command"] == "test"
    with staged(out) as stage:
        atomic_write_text(stage / "report.md", "second")
        assert (out / "report.md").read_text() == "first"  # the previous result stays until the end
    assert sorted(_files(out)) == sorted([MARKER, "report.md"])  # the dropped figure does not linger
    assert (out / "report.md").read_text() == "second"
    assert _siblings(out) == ["res"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(out / "report.md").st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o777 & ~mask


def test_failure_keeps_the_previous_result(tmp_path):
    out = tmp_path / "res"
    with staged(out) as stage:
        atomic_write_text(stage / "report.md", "good")
    before = _files(out)
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), staged(out) as stage:
            atomic_write_text(stage / "report.md", "half")
            raise exc
        assert _files(out) == before
        assert _siblings(out) == ["res"]


def test_refusals(tmp_path, monkeypatch):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputDirError, match="is a file"), staged(f):
        pass
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep")
    with pytest.raises(OutputDirError, match="--force"), staged(foreign):
        pytest.fail("the block must not run")
    empty = tmp_path / "empty"
    empty.mkdir()
    with staged(empty) as stage:  # an empty directory is fine
        atomic_write_text(stage / "a", "1")
    link = tmp_path / "link"
    link.symlink_to(empty)
    with pytest.raises(OutputDirError, match="symbolic link"), staged(link):
        pass
    monkeypatch.chdir(foreign)
    with pytest.raises(OutputDirError, match="never replaced"), staged(".", force=True):
        pass
    with pytest.raises(OutputDirError, match="never replaced"), staged(tmp_path, force=True):
        pass
    assert (foreign / "thesis.tex").read_text() == "keep"


def test_inputs_are_sacred(tmp_path):
    """A file put into an earlier run's output (the data the next run reads) is never deleted: refused by name,
    and an input of the run is refused even with force."""
    out = tmp_path / "res"
    with staged(out, command="test") as stage:
        atomic_write_text(stage / "report.md", "first")
        (stage / "sub").mkdir()
        atomic_write_text(stage / "sub" / "fig.png", "png")
    assert json.loads((out / MARKER).read_text())["files"] == ["report.md", "sub/fig.png"]
    data = out / "trades.csv"
    data.write_text("my data")
    with pytest.raises(OutputDirError, match=r"holds .*trades.csv, which mmenv did not write"), staged(out):
        pytest.fail("the block must not run")
    with outdir.reading([data]):
        with (
            pytest.raises(OutputDirError, match=r"holds .*trades.csv, which this run reads"),
            staged(out, force=True),
        ):
            pytest.fail("the block must not run")
    assert data.read_text() == "my data"
    with staged(out, force=True) as stage:  # not an input: --force replaces the directory's content
        atomic_write_text(stage / "report.md", "second")
    assert not data.exists()
    with outdir.reading([tmp_path / "elsewhere.csv"]), staged(out) as stage:  # inputs elsewhere: fine
        atomic_write_text(stage / "report.md", "third")
    # a marker written before the list was kept: a file newer than the marker is not mmenv's
    marker = out / MARKER
    marker.write_text(json.dumps({"command": "old"}))
    os.utime(marker, (time.time() - 100, time.time() - 100))
    (out / "added.csv").write_text("x")
    with pytest.raises(OutputDirError, match=r"added\.csv, which mmenv did not write"), staged(out):
        pass


def test_stale_stage_of_a_dead_process_is_removed(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()  # a pid that no longer runs
    stale = tmp_path / f".res.stage-{p.pid}-abc"
    stale.mkdir()
    (stale / "half.json").write_text("{")
    live = tmp_path / f".res.stage-{os.getpid()}-xyz"  # this process: alive, kept
    live.mkdir()
    with staged(tmp_path / "res") as stage:
        atomic_write_text(stage / "a", "1")
    assert not stale.exists() and live.exists()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    return env


def test_sigint_mid_run_leaves_the_previous_result(tmp_path):
    out = tmp_path / "res"
    with staged(out, command="sensitivity") as stage:
        atomic_write_text(stage / "metrics.json", "{}")
        atomic_write_text(stage / "sensitivity_frontier.png", "previous figure")
    before = _files(out)
    proc = subprocess.Popen(  # a long grid (hundreds of gamma values, one simulation each): interrupted
        [
            sys.executable,
            "-m",
            "mmenv.cli",
            "sensitivity",
            "--paths",
            "2000",
            "--n-gamma",
            "2000",
            "--out",
            str(out),
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".res.stage-") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    time.sleep(1.0)  # mid-run: simulating
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("mmenv sensitivity: error: interrupted"), err
    assert _files(out) == before
    assert _siblings(out) == ["res"]


def _expected(seed: int) -> tuple[list, dict]:
    from mmenv.studies.common import json_ready
    from mmenv.studies.replication import run_replication

    rows, diagnostics, _ = run_replication(60, seed)
    return json.loads(json.dumps(json_ready(rows))), json.loads(json.dumps(json_ready(diagnostics)))


def test_two_concurrent_runs_never_mix(tmp_path):
    out = tmp_path / "res"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mmenv.cli",
                "replicate",
                "--paths",
                "60",
                "--seed",
                str(s),
                "--out",
                str(out),
            ],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in (1, 2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    rows = json.loads((out / "as2008.json").read_text())["rows"]
    diagnostics = json.loads((out / "as2008_diagnostics.json").read_text())["rows"]
    runs = [_expected(1), _expected(2)]
    assert runs[0][0] != runs[1][0]
    assert (rows, diagnostics) in runs  # both files of one and the same run
    assert sorted(_files_names(out)) == sorted(
        [MARKER, "as2008.json", "as2008_diagnostics.json", "as2008_event_order.json", "as2008_pnl.png"]
    )
    assert _siblings(out) == ["res"]


def _files_names(d: Path) -> list[str]:
    return [p.name for p in d.iterdir()]


def test_single_file_writers_use_unique_temporary_names(tmp_path):
    """The report, README and PPO-run writers never share a temporary name: writers racing on one path all
    succeed, the file holds one writer's whole text, and no temporary file is left behind."""
    import threading

    from agents.ppo import _write_json
    from mmenv.outdir import atomic_write_text

    writers = [
        (tmp_path / "report.md", lambda p, i: atomic_write_text(p, f"run {i}\n" * 2000)),
        (tmp_path / "config.json", lambda p, i: _write_json(p, {"run": i, "pad": "x" * 20000})),
    ]
    for path, write in writers:
        errors: list[BaseException] = []

        def job(i, path=path, write=write, errors=errors):
            try:
                for _ in range(20):
                    write(path, i)
            except BaseException as e:  # collected and asserted below
                errors.append(e)

        threads = [threading.Thread(target=job, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        text = path.read_text()
        if path.suffix == ".json":
            assert json.loads(text)["run"] in range(4)
        else:
            assert len(set(text.splitlines())) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "report.md"]
