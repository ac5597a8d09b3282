"""Write a run's results: ``results.json``, one PNG per figure, and a self-contained ``index.html``."""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import platform
import sys
from pathlib import Path

__all__ = ["prepare_out_dir", "write_report", "versions"]


def versions() -> dict[str, str]:
    """Versions of Python, simcode and the main dependencies."""
    import importlib.metadata as md

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("simcode", "numpy", "scipy", "torch", "cvxpy", "scikit-learn", "matplotlib"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def prepare_out_dir(out: str | os.PathLike) -> Path:
    """Create ``out`` (and parents) and check it is writable; ``ValueError`` with the reason otherwise."""
    p = Path(out)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".simcode-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"cannot write the report to {str(p)!r}: {exc.strerror or exc}") from None
    return p


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: readers see the old complete file or
    the new complete file, never a half-written one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(results, out: str | os.PathLike, config: dict, *, final: bool = True) -> Path:
    """Save figures as PNG, then ``results.json`` and ``index.html`` in ``out``. Returns the HTML path.

    Called after every experiment (``final=False``: the page says the run is in progress and how many experiments
    are done) so that a run stopped early still leaves a complete report of what finished. Figures already saved
    by an earlier call are not saved again. Both files are written atomically.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = prepare_out_dir(out)
    multi_seed = len({r.ctx.seed for r in results}) > 1 or len(config.get("seeds") or []) > 1
    for r in results:
        for f in r.ctx.figures:
            if f.path or f.fig is None:
                continue
            fname = f"{r.experiment.name}__{f.name}" + (f"__seed{r.ctx.seed}" if multi_seed else "") + ".png"
            f.fig.savefig(out / fname, dpi=110, bbox_inches="tight")
            plt.close(f.fig)
            f.path = fname
    payload = {
        "config": config,
        "versions": versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "complete": bool(final),
        "passed": all(r.passed for r in results),
        "experiments": [r.to_dict() for r in results],
    }
    if multi_seed:
        payload["across_seeds"] = claims_across_seeds(payload["experiments"])
    _atomic_write(out / "results.json", json.dumps(payload, indent=2, default=str))
    path = out / "index.html"
    _atomic_write(path, _html(payload))
    return path


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em 0;font-size:.92em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.pass{color:#11772d;font-weight:600}.fail{color:#b00020;font-weight:600}
.quick{background:#fff4ce;border:1px solid #e0c060;padding:.6em;margin:1em 0}
figure{display:block;margin:1em 0;max-width:100%}
section.exp{border-top:2px solid #ddd;margin-top:2em}
figure img{max-width:100%}figcaption{font-size:.88em;color:#444}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}
"""


def _fmt(v) -> str:
    """A value for a table cell: floats to 4 significant digits (also inside lists), long lists cut, None as —."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        items = [_fmt(x) for x in v[:12]]
        return "[" + ", ".join(items) + (", …" if len(v) > 12 else "") + "]"
    return html.escape(str(v))


def claims_across_seeds(experiments: list[dict]) -> list[dict]:
    """One row per (experiment, claim) over the seeds it ran with: measured values, their spread, and whether
    it passed on every seed (issue 19's robustness rule). Claims are matched by name."""
    rows: dict[tuple, dict] = {}
    for x in experiments:
        if x["error"]:
            key = (x["name"], "(experiment crashed)")
            row = rows.setdefault(key, {"experiment": x["name"], "claim": key[1], "seeds": [], "measured": [],
                                        "passed": []})
            row["seeds"].append(x["seed"])
            row["measured"].append(None)
            row["passed"].append(False)
        for c in x["claims"]:
            key = (x["name"], c["name"])
            row = rows.setdefault(key, {"experiment": x["name"], "claim": c["name"], "expectation": c["expectation"],
                                        "source": c["source"], "seeds": [], "measured": [], "passed": []})
            row["seeds"].append(x["seed"])
            row["measured"].append(c["measured"])
            row["passed"].append(bool(c["passed"]))
    out = []
    for row in rows.values():
        nums = [m for m in row["measured"] if isinstance(m, (int, float)) and not isinstance(m, bool)]
        row["spread"] = [min(nums), max(nums)] if nums else None
        row["passed_all"] = all(row["passed"])
        out.append(row)
    return out


def _anchor(x: dict, p: dict) -> str:
    return x["name"] + (f"-seed{x['seed']}" if p.get("across_seeds") else "")


def _summary(p: dict) -> str:
    """The top of the report: counts, and every failing claim with a link to its section."""
    e = html.escape
    xs = p["experiments"]
    n_claims = sum(len(x["claims"]) for x in xs)
    failed = [(x, c) for x in xs for c in x["claims"] if not c["passed"]]
    crashed = [x for x in xs if x["error"]]
    head = f"<p>Created {e(p['created'])}. "
    if not p.get("complete", True):
        cfg = p["config"]
        total = len(cfg.get("names", [])) * max(1, len(cfg.get("seeds") or [1]))
        state = "Interrupted" if cfg.get("interrupted") else "Run in progress"
        head += f"<b>{state}: {len(xs)} of {total} experiment runs finished.</b> "
    n_pass = n_claims - len(failed)
    head += (f"<b>{n_pass} of {n_claims} claims pass</b> in {len(xs)} experiment runs"
             + (f"; <span class='fail'>{len(crashed)} experiment(s) crashed</span>" if crashed else "") + ".</p>")
    if not failed and not crashed:
        return head + "<p><span class='pass'>All claims pass.</span></p>"
    items = [f"<li><a href='#{e(_anchor(x, p))}'>{e(x['name'])}</a>"
             + (f" (seed {x['seed']})" if p.get("across_seeds") else "") + f": {e(c['name'])} — measured "
             f"{_fmt(c['measured'])}, paper {e(c['expectation'])}</li>" for x, c in failed]
    items += [f"<li><a href='#{e(_anchor(x, p))}'>{e(x['name'])}</a>: the experiment crashed</li>" for x in crashed]
    return head + "<p class='fail'>Failing:</p><ul>" + "".join(items) + "</ul>"


def _html(p: dict) -> str:
    e = html.escape
    cfg = p["config"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>simcode report</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>simcode reproduction report</h1>",
             _summary(p)]
    if cfg.get("quick"):
        parts.append("<div class='quick'><b>Quick mode.</b> These results come from the reduced "
                     "<code>--quick</code> sizes meant for smoke tests; claims at the paper's sizes need "
                     "a run without <code>--quick</code>.</div>")
    if p.get("across_seeds"):
        parts.append("<h2>Claims across seeds</h2><p>A claim passes only if it passes on every seed.</p>"
                     "<table><tr><th>experiment</th><th>claim</th><th>paper</th><th>measured per seed</th>"
                     "<th>spread</th><th>result</th></tr>")
        for row in p["across_seeds"]:
            n_ok = sum(row["passed"])
            ok = (f"<span class='pass'>pass {n_ok}/{len(row['passed'])}</span>" if row["passed_all"]
                  else f"<span class='fail'>FAIL ({n_ok}/{len(row['passed'])} pass)</span>")
            per = ", ".join(f"seed {sd}: {_fmt(m)}" for sd, m in zip(row["seeds"], row["measured"]))
            spread = "" if row["spread"] is None else f"{_fmt(row['spread'][0])} – {_fmt(row['spread'][1])}"
            parts.append(f"<tr><td>{e(row['experiment'])}</td><td>{e(row['claim'])}</td>"
                         f"<td>{e(row.get('expectation', ''))}</td><td>{per}</td><td>{spread}</td><td>{ok}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Claims</h2><table><tr><th>experiment</th><th>claim</th><th>source</th>"
                 "<th>paper</th><th>measured</th><th>result</th></tr>")
    for x in p["experiments"]:
        for c in x["claims"]:
            ok = "<span class='pass'>pass</span>" if c["passed"] else "<span class='fail'>FAIL</span>"
            parts.append(f"<tr><td>{e(x['name'])}</td><td>{e(c['name'])}"
                         + (f"<br><small>{e(c['note'])}</small>" if c.get("note") else "")
                         + f"</td><td>{e(c['source'])}</td><td>{e(c['expectation'])}</td>"
                         f"<td>{_fmt(c['measured'])}</td><td>{ok}</td></tr>")
        if x["error"]:
            parts.append(f"<tr><td>{e(x['name'])}</td><td colspan=4>experiment crashed</td>"
                         "<td><span class='fail'>FAIL</span></td></tr>")
    parts.append("</table>")
    for x in p["experiments"]:
        anchor = _anchor(x, p)
        title = x["name"] + (f" (seed {x['seed']})" if p.get("across_seeds") else "")
        n_fail = sum(not c["passed"] for c in x["claims"]) + (1 if x["error"] else 0)
        mark = (f"<span class='pass'>all {len(x['claims'])} claims pass</span>" if not n_fail
                else f"<span class='fail'>{n_fail} of {len(x['claims'])} claims fail</span>")
        parts.append(f"<section class='exp'><h2 id='{e(anchor)}'>{e(title)} — {mark}</h2>"
                     f"<p>{e(x['description'])}</p>")
        parts.append(f"<p><small>sources: {e(', '.join(x['sources']))}; wall time {x['wall_s']:.1f} s; "
                     f"seed {x['seed']}; device {e(str(x['device']))}"
                     + (f"; reused from the run of {e(x['reused_from'])} (--resume)" if x.get("reused_from") else "")
                     + "</small></p>")
        for n in x["notes"]:
            parts.append(f"<p>{e(n)}</p>")
        if x["error"]:
            parts.append(f"<p class='fail'>The experiment raised an error:</p><pre>{e(x['error'])}</pre>")
        if x.get("warnings"):
            parts.append("<details><summary>Library warnings during this run "
                         f"({sum(w['count'] for w in x['warnings'])})</summary><ul>"
                         + "".join(f"<li>{e(w['category'])}: {e(w['message'])}"
                                   + (f" (× {w['count']})" if w["count"] > 1 else "") + "</li>" for w in x["warnings"])
                         + "</ul></details>")
        for f in x["figures"]:
            if f["path"]:
                parts.append(f"<figure><a href='{e(f['path'])}'><img src='{e(f['path'])}' alt='{e(f['name'])}'>"
                             f"</a><figcaption>{e(f['caption'])} <small>(click for full size)</small>"
                             "</figcaption></figure>")
        if x["metrics"]:
            parts.append("<table><tr><th>metric</th><th>value</th></tr>")
            for k, v in x["metrics"].items():
                parts.append(f"<tr><td>{e(k)}</td><td>{_fmt(v)}</td></tr>")
            parts.append("</table>")
        parts.append("</section>")
    parts.append("<h2>Run configuration and versions</h2><pre>"
                 + e(json.dumps({"config": cfg, "versions": p["versions"]}, indent=2)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)
