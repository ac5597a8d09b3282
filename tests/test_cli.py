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
        ctx.claim("two is at most one", source="test", measured=2.0, expected=1.0, kind="at_most")

    @experiment("_toy-crash", description="toy", cpu_time="0 s")
    def _crash(ctx):
        raise RuntimeError("boom")

    yield
    for k in ("_toy-pass", "_toy-fail", "_toy-crash"):
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


def test_reproduce_failed_claim_and_crash_exit_1(tmp_path, toy_experiments):
    r = runner.invoke(app, ["reproduce", "_toy-fail", "--out", str(tmp_path)])
    assert r.exit_code == 1
    r = runner.invoke(app, ["reproduce", "_toy-crash", "--out", str(tmp_path)])
    assert r.exit_code == 1
    data = json.loads((tmp_path / "results.json").read_text())
    assert "boom" in data["experiments"][0]["error"]


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
