"""simcode.ephys.sort vs SpikeInterface's tridesclous2 on the same ground-truth recordings (issue 18).

Recordings: ``spikeinterface.core.generate_ground_truth_recording`` (the same seed gives both sorters the same
recording, saved to a temporary binary folder before the clock starts). Each (sorter, setting) runs ONCE in its
own subprocess (these runs are minutes long; no warm-up or repeats), one at a time, with OMP/MKL/OpenBLAS/numba
threads pinned to 1 and the peer's ``n_jobs=1`` (simcode's FFT workers = 1). Reported: per-unit accuracy,
precision and recall from ``spikeinterface.comparison.compare_sorter_to_ground_truth`` (Hungarian, ±0.4 ms),
units with accuracy ≥ 0.8, wall and CPU time of the sort call, and the subprocess's peak RSS
(``resource.getrusage``; includes the Python imports, identical for both sides). Peak memory against recording
length: simcode on the same setting at two lengths.

Usage: ``nice -n 10 python benchmarks/spike_sorting_si.py [--quick]`` → ``benchmarks/results/spike_sorting_si.md``;
``SSI_SHORT32=<seconds>`` shortens the 32-channel setting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {  # name: (channels, units, seconds, noise µV)
    "4ch-8u": (4, 8, 300.0, 5.0),
    "4ch-8u-lowSNR": (4, 8, 300.0, 10.0),
    "32ch-30u": (32, 30, 600.0, 5.0),
}
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")}


def one(sorter: str, setting: str, seconds: float, seed: int) -> dict:
    import resource

    from spikeinterface.core import generate_ground_truth_recording

    from simcode.ephys import score_sorting

    C, K, _, noise = SETTINGS[setting]
    rec, gt = generate_ground_truth_recording(durations=[seconds], num_channels=C, num_units=K, seed=seed,
                                              noise_kwargs={"noise_levels": noise, "strategy": "on_the_fly"})
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        # both sorters read the same binary copy (SpikeInterface's sorters need a serialisable recording)
        rec = rec.save(folder=Path(tmp) / "rec", n_jobs=1, progress_bar=False)
        t0, c0 = time.perf_counter(), time.process_time()
        if sorter == "simcode":
            from simcode.ephys import sort

            sorting = sort(rec, n_units=K, random_state=seed, n_jobs=1).sorting
        else:
            from spikeinterface.sorters import run_sorter

            sorting = run_sorter(sorter, rec, folder=Path(tmp) / "out", verbose=False, job_kwargs={"n_jobs": 1},
                                 seed=seed).to_numpy_sorting()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = score_sorting(sorting, gt)
    return {"sorter": sorter, "setting": setting, "seconds": seconds, "wall_s": wall, "cpu_s": cpu,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            **{k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in s.items()}}


def spawn(sorter, setting, seconds, seed=0):
    env = {**os.environ, **THREADS}
    out = subprocess.run([sys.executable, __file__, "--one", sorter, setting, str(seconds), str(seed)], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        return {"sorter": sorter, "setting": setting, "seconds": seconds, "error": out.stderr[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(quick: bool):
    import numpy as np

    runs = []
    plan = [(s, n, SETTINGS[n][2] if not quick else 60.0) for n in SETTINGS for s in ("simcode", "tridesclous2")]
    if os.environ.get("SSI_SHORT32"):  # shortened 32-channel setting (time budget), said so in the results
        plan = [(s, n, float(os.environ["SSI_SHORT32"]) if n == "32ch-30u" else d) for s, n, d in plan]
        plan.append(("simcode", "32ch-30u", SETTINGS["32ch-30u"][2]))  # the full 10 minutes, simcode only
    plan.append(("simcode", "4ch-8u", 60.0))  # memory vs length: the same setting, a fifth of the length
    load = os.getloadavg()
    out = Path(__file__).parent / "results" / "spike_sorting_si.md"
    previous = {}
    if os.environ.get("SSI_REUSE_PEER"):  # rerun simcode only; the peer's rows come from the previous run's JSON
        previous = {(r["sorter"], r["setting"], r["seconds"]): r
                    for r in json.loads(out.with_suffix(".json").read_text()) if r["sorter"] != "simcode"}
    for sorter, name, dur in plan:
        if (sorter, name, dur) in previous:
            runs.append({**previous[(sorter, name, dur)], "reused": True})
            continue
        print(f"running {sorter} on {name} ({dur:.0f} s)", flush=True)
        r = spawn(sorter, name, dur)
        print({k: v for k, v in r.items() if not isinstance(v, list)}, flush=True)
        runs.append(r)
    lines = ["# simcode.ephys.sort vs tridesclous2 (SpikeInterface) on generator ground truth", "",
             f"Host: {os.cpu_count()} CPUs, load average at start {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}; "
             "threads pinned to 1 (OMP/MKL/OpenBLAS/numba), tridesclous2 job_kwargs n_jobs=1, simcode n_jobs=1; "
             "each run once in its own subprocess, one at a time, under nice. Accuracy = tp/(tp+fn+fp) per "
             "ground-truth unit (spikeinterface.comparison, Hungarian, ±0.4 ms); well detected: accuracy ≥ 0.8.", "",
             "| setting | length (s) | sorter | mean acc. | mean prec. | mean recall | well detected / GT | "
             "units found | wall (s) | CPU (s) | peak RSS (MB) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        if "error" in r:
            lines.append(f"| {r['setting']} | {r['seconds']:.0f} | {r['sorter']} | error: "
                         f"{r['error'].strip().splitlines()[-1][:80] if r['error'].strip() else '?'} |||||||")
            continue
        n_gt = len(r["accuracy"])
        tag = " (prev. run)" if r.get("reused") else ""
        lines.append(f"| {r['setting']} | {r['seconds']:.0f} | {r['sorter']}{tag} | "
                     f"{r['mean_accuracy']:.3f} | "
                     f"{r['mean_precision']:.3f} | {r['mean_recall']:.3f} | {r['n_well_detected']}/{n_gt} | "
                     f"{r['n_units_found']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} |")
    lines += ["", "Per-unit accuracy (ground-truth unit order):", ""]
    for r in runs:
        if "error" not in r:
            lines.append(f"- {r['setting']} {r['seconds']:.0f} s {r['sorter']}: "
                         f"{np.round(r['accuracy'], 2).tolist()}")
    if previous:
        lines += ["", "Peer rows reused from the previous run of this script (same recordings, same machine); "
                  "simcode rows rerun."]
    out.write_text("\n".join(lines) + "\n")
    (out.with_suffix(".json")).write_text(json.dumps(runs, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))))
    else:
        main("--quick" in sys.argv)
