"""Multi-channel convolutional spike sorting inside SpikeInterface, scored against the ground truth of
SpikeInterface's own generator (paper 004, slides "Spatio-temporal generalizations of convolutional model" and
"Electrode array — Neurons — event times/amplitudes": each neuron is a spatio-temporal atom over the electrode
array, its spikes the event times and amplitudes of a non-negative convolutional code).

The single-electrode experiment ``spike-sorting`` (the lecture's 3-neuron, 10 kHz set-up) is separate and unchanged.
"""

from __future__ import annotations

import time

from simcode.experiments import Context, experiment

# (name, channels, units, seconds, noise level µV); the generator's default noise level is 5 µV
FULL = [("4ch-8u-5min", 4, 8, 300.0, 5.0), ("32ch-30u-10min", 32, 30, 600.0, 5.0),
        ("4ch-8u-5min-lowSNR", 4, 8, 300.0, 10.0)]
QUICK = [("4ch-8u-60s", 4, 8, 60.0, 5.0)]


@experiment("spike-sorting-si", description="simcode.ephys.sort on SpikeInterface ground-truth recordings: "
            "per-unit accuracy, precision, recall (spikeinterface.comparison)", cpu_time="quick ~10 s, full ~5 min (not yet run in full)",
            sources=("004 'Spatio-temporal generalizations of convolutional model'",
                     "004 'Electrode array — Neurons — event times/amplitudes'"))
def run(ctx: Context) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from spikeinterface.core import generate_ground_truth_recording

    from simcode.ephys import score_sorting, sort

    settings = QUICK if ctx.quick else FULL
    scores = {}
    for name, C, K, dur, noise in ctx.track(settings, "settings"):
        rec, gt = generate_ground_truth_recording(durations=[dur], num_channels=C, num_units=K, seed=ctx.seed,
                                                  noise_kwargs={"noise_levels": noise, "strategy": "on_the_fly"})
        t0 = time.perf_counter()
        res = sort(rec, n_units=K, random_state=ctx.seed)
        wall = time.perf_counter() - t0
        s = score_sorting(res, gt)
        scores[name] = s
        for k in ("mean_accuracy", "mean_precision", "mean_recall", "n_well_detected", "n_units_found"):
            ctx.metric(f"{name}_{k}", s[k])
        ctx.metric(f"{name}_wall_s", wall)
        # how many ground-truth units a 5-noise-level threshold can see at all (trough of the injected template)
        trough = -np.asarray(rec.templates).min(axis=(1, 2)) / noise
        ctx.metric(f"{name}_gt_units_trough_over_5_noise", int(np.sum(trough > 5.0)))
        ctx.metric(f"{name}_status", res.status)
    first = settings[0][0]
    ctx.claim(f"mean accuracy ≥ 0.9 on the 4-channel set ({first})",
              source="simcode criterion: issue 18's target for 4 channels / 8 units at the generator's default SNR",
              measured=scores[first]["mean_accuracy"], expected=0.9, kind="at_least")
    if not ctx.quick:
        ctx.claim("10 min of 32-channel data sorted in < 600 s wall",
                  source="simcode criterion: issue 18's speed target (one CPU thread here)",
                  measured=ctx.metrics["32ch-30u-10min_wall_s"], expected=600.0, kind="at_most")
    fig, ax = plt.subplots(figsize=(6, 3))
    for name, s in scores.items():
        acc = np.sort(s["accuracy"])[::-1]
        ax.plot(np.arange(acc.size) + 1, acc, "o-", label=name)
    ax.set_xlabel("ground-truth unit (sorted)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    ctx.figure("accuracy", fig, "Per-unit accuracy tp/(tp+fn+fp) of simcode.ephys.sort against the generator's "
               "ground truth (Hungarian matching, ±0.4 ms), one curve per setting, units sorted by accuracy.")
    ctx.note("Recordings from spikeinterface.core.generate_ground_truth_recording (seed = the run's seed); the number "
             "of units is given to the sorter; preprocessing: spikeinterface.preprocessing.bandpass_filter 300-6000 Hz "
             "and, with ≥ 8 channels, a global median reference. Comparison with SpikeInterface's own sorters is in "
             "benchmarks/spike_sorting_si.py. The generator draws some units with a trough below 5 noise levels "
             "(metric *_gt_units_trough_over_5_noise): threshold-crossing detection (simcode's and tridesclous2's) "
             "does not find them, and they count as accuracy 0 in the mean.")
