"""The simcode CLI: list, reproduce (exit codes, report files), usage errors, --version."""

import json

import pytest
from typer.testing import CliRunner

import simcode
from simcode.cli import app
from simcode.experiments import REGISTRY, experiment, registry

runner = CliRunner()


@pytest.fixture
def toy_experiments():
    registry()  # load the real ones first

    @experiment("_toy-pass", description="toy", cpu_time="0 s", sources=("test",))
    def _ok(ctx):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        ctx.metric("x", 1.0)
        ctx.figure("line", fig, "A straight line.")
        for _ in ctx.track(range(3), "loop"):
            pass
        ctx.claim("one equals one", source="test", measured=1.0, expected=1.0, kind="close", tol=0)

    @experiment("_toy-fail", description="toy", cpu_time="0 s")
    def _bad(ctx):
        import warnings

        from simcode.core import ConvergenceWarning

        for _ in range(3):
            warnings.warn("solver X did not converge in 5 iterations", ConvergenceWarning, stacklevel=2)
        ctx.claim("two is at most one", source="test", measured=2.0, expected=1.0, kind="at_most")

    @experiment("_toy-interrupt", description="toy", cpu_time="0 s")
    def _interrupt(ctx):
        raise KeyboardInterrupt

    @experiment("_toy-seed", description="toy", cpu_time="0 s")
    def _seeded(ctx):
        # passes on even seeds only: a claim must pass on every seed to pass across seeds
        ctx.claim("the seed is even", source="test", measured=float(ctx.seed % 2), expected=0.0, kind="at_most")

    @experiment("_toy-crash", description="toy", cpu_time="0 s")
    def _crash(ctx):
        raise RuntimeError("boom")

    yield
    for k in ("_toy-pass", "_toy-fail", "_toy-crash", "_toy-seed", "_toy-interrupt"):
        REGISTRY.pop(k, None)


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and simcode.__version__ in r.output


def test_list_shows_registered_experiments():
    r = runner.invoke(app, ["list"])
    assert r.exit_code == 0
    assert "onoff" in r.output


def test_reproduce_pass_writes_report(tmp_path, toy_experiments):
    r = runner.invoke(app, ["reproduce", "_toy-pass", "--out", str(tmp_path), "--quick", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["config"]["quick"] is True and data["passed"] is True
    exp = data["experiments"][0]
    assert exp["claims"][0]["passed"] and exp["metrics"]["x"] == 1.0
    assert (tmp_path / exp["figures"][0]["path"]).exists()
    html = (tmp_path / "index.html").read_text()
    assert "Quick mode" in html and "A straight line." in html


def test_reproduce_failed_claim_exits_1_and_crash_exits_3(tmp_path, toy_experiments):
    r = runner.invoke(app, ["reproduce", "_toy-fail", "--out", str(tmp_path)])
    assert r.exit_code == 1
    r = runner.invoke(app, ["reproduce", "_toy-crash", "--out", str(tmp_path)])
    assert r.exit_code == 3
    data = json.loads((tmp_path / "results.json").read_text())
    assert "boom" in data["experiments"][0]["error"]


def test_reproduce_over_seeds_needs_every_seed_to_pass(tmp_path, toy_experiments):
    r = runner.invoke(app, ["reproduce", "_toy-seed", "_toy-pass", "--out", str(tmp_path), "--seeds", "0,2"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["reproduce", "_toy-seed", "_toy-pass", "--out", str(tmp_path), "--seeds", "0 1 2"])
    assert r.exit_code == 1 and "FAIL (2/3)" in r.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["config"]["seeds"] == [0, 1, 2] and len(data["experiments"]) == 6
    rows = {row["claim"]: row for row in data["across_seeds"]}
    assert rows["the seed is even"]["passed"] == [True, False, True] and not rows["the seed is even"]["passed_all"]
    assert rows["one equals one"]["passed_all"] and rows["one equals one"]["spread"] == [1.0, 1.0]
    figures = {f["path"] for x in data["experiments"] for f in x["figures"]}
    assert len(figures) == 3 and all((tmp_path / f).exists() for f in figures)  # one file per seed
    assert "Claims across seeds" in (tmp_path / "index.html").read_text()
    for bad in ("", "a,b", "1,1", "-1"):
        r = runner.invoke(app, ["reproduce", "_toy-pass", "--out", str(tmp_path), "--seeds", bad])
        assert r.exit_code == 2, (bad, r.output)


def test_unknown_experiment_lists_valid_names(tmp_path):
    r = runner.invoke(app, ["reproduce", "no-such-thing", "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert "valid names" in r.output and "onoff" in r.output


def test_unwritable_output_folder(tmp_path, toy_experiments):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = runner.invoke(app, ["reproduce", "_toy-pass", "--out", str(blocker / "sub")])
    assert r.exit_code == 2
    assert "cannot write the report" in r.output


def test_bad_device_is_usage_error(tmp_path):
    r = runner.invoke(app, ["reproduce", "onoff", "--device", "tpu", "--out", str(tmp_path)])
    assert r.exit_code == 2


def test_report_lists_failing_claims_with_links_and_is_written_after_every_experiment(tmp_path, toy_experiments,
                                                                                      monkeypatch):
    import simcode.report as report

    calls = []
    real = report.write_report

    def spy(results, out, config, *, final=True):
        calls.append((len(results), final, json.loads((tmp_path / "results.json").read_text())["complete"]
                      if (tmp_path / "results.json").exists() else None))
        return real(results, out, config, final=final)

    monkeypatch.setattr(report, "write_report", spy)
    r = runner.invoke(app, ["reproduce", "_toy-pass", "_toy-fail", "--out", str(tmp_path)])
    assert r.exit_code == 1
    # one partial report after each experiment, then the final one
    assert [(n, f) for n, f, _ in calls] == [(1, False), (2, False), (2, True)]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["complete"] is True
    html = (tmp_path / "index.html").read_text()
    assert "1 of 2 claims pass" in html and "href='#_toy-fail'" in html and "id='_toy-fail'" in html
    assert "1 of 1 claims fail" in html and not list(tmp_path.glob(".*.tmp-*"))
    # library warnings are collected per experiment (one row with its count), not printed between the bars
    fail = next(x for x in data["experiments"] if x["name"] == "_toy-fail")
    assert fail["warnings"] == [{"category": "ConvergenceWarning", "message": "solver X did not converge in 5 "
                                 "iterations", "count": 3}]
    assert "ConvergenceWarning: solver X did not converge" in html and "3 library warning(s)" in r.output


def test_partial_report_says_the_run_is_in_progress_and_formats_numbers(tmp_path):
    from simcode.report import _fmt, _summary

    p = {"created": "now", "complete": False, "config": {"names": ["a", "b", "c"], "seeds": [0]},
         "experiments": [{"name": "a", "seed": 0, "error": None, "claims": []}]}
    assert "1 of 3 experiment runs finished" in _summary(p)
    assert _fmt([5.045999999999998, None, 2]) == "[5.046, —, 2]" and _fmt(list(range(20))).endswith(", …]")


def test_interrupt_keeps_finished_runs_and_resume_reuses_them(tmp_path, toy_experiments):
    from simcode.experiments import REGISTRY

    r = runner.invoke(app, ["reproduce", "_toy-pass", "_toy-interrupt", "_toy-fail", "--out", str(tmp_path)])
    assert r.exit_code == 130, r.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert [x["name"] for x in data["experiments"]] == ["_toy-pass"] and data["complete"] is False
    assert "Interrupted: 1 of 3" in (tmp_path / "index.html").read_text()
    # resume: the finished run is reused (its function is not called again), the others run
    calls = []
    original = REGISTRY["_toy-pass"].fn
    REGISTRY["_toy-pass"].fn = lambda ctx: (calls.append(1), original(ctx))
    try:
        r = runner.invoke(app, ["reproduce", "_toy-pass", "_toy-fail", "--out", str(tmp_path), "--resume"])
    finally:
        REGISTRY["_toy-pass"].fn = original
    assert r.exit_code == 1 and "reused from the run of" in r.output and not calls
    data = json.loads((tmp_path / "results.json").read_text())
    reused = {x["name"]: x["reused_from"] for x in data["experiments"]}
    assert reused["_toy-pass"] and reused["_toy-fail"] is None and data["complete"] is True
    assert (tmp_path / data["experiments"][0]["figures"][0]["path"]).exists()
    # another --quick setting, or a garbage results.json, reuses nothing (and says so)
    r = runner.invoke(app, ["reproduce", "_toy-pass", "--out", str(tmp_path), "--resume", "--quick"])
    assert "other --quick/--device settings" in r.output
    (tmp_path / "results.json").write_text('{"config": ')
    r = runner.invoke(app, ["reproduce", "_toy-pass", "--out", str(tmp_path), "--resume"])
    assert r.exit_code == 0 and "cannot read" in r.output and "reused" not in r.output
