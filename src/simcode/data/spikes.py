"""Simulated extracellular recordings: a few neurons firing biphasic spikes into noise.

The generative model is the convolutional one of the sparse-coding lecture (paper 004, "Convolutional
generative model"): ``y[n] = sum_c h_c[n] * x_c[n] + v[n]`` where ``h_c`` is neuron ``c``'s spike
template, ``x_c`` a train of scaled impulses at its spike onsets and ``v`` white Gaussian noise.
The lecture's simulated set-up is fs = 10 kHz, 3 neurons, 30 Hz firing, 17 minutes.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..core.arrays import check_array, check_int, check_number, check_random_state

__all__ = ["make_spike_recording", "biphasic_template"]


def biphasic_template(n_samples: int, *, trough_pos: float = 0.35, trough_width: float = 0.08,
                      peak_pos: float = 0.6, peak_width: float = 0.15, peak_ratio: float = 0.45,
                      sign: float = -1.0) -> np.ndarray:
    """A unit-norm biphasic spike waveform: a sharp trough followed by a slower, smaller peak.

    ``w(t) = sign * (exp(-(t - a)^2 / (2 s_a^2)) - r exp(-(t - b)^2 / (2 s_b^2)))`` on ``t in [0, 1)``,
    positions and widths as fractions of the template duration, then scaled to unit l2 norm.
    """
    n_samples = check_int(n_samples, "n_samples", low=4)
    trough_pos = check_number(trough_pos, "trough_pos")
    trough_width = check_number(trough_width, "trough_width", low=0.0, low_inclusive=False)
    peak_pos = check_number(peak_pos, "peak_pos")
    peak_width = check_number(peak_width, "peak_width", low=0.0, low_inclusive=False)
    peak_ratio = check_number(peak_ratio, "peak_ratio")
    sign = check_number(sign, "sign")
    if sign == 0:
        raise ValueError("sign must be non-zero (-1 for a negative trough, +1 for a positive one), got 0")
    t = np.arange(n_samples) / n_samples
    w = np.exp(-(t - trough_pos) ** 2 / (2 * trough_width ** 2))
    w = w - peak_ratio * np.exp(-(t - peak_pos) ** 2 / (2 * peak_width ** 2))
    w = sign * w
    w = w - np.linspace(w[0], w[-1], n_samples)  # start and end at zero
    return w / np.linalg.norm(w)


def _shift_invariant_similarity(a: np.ndarray, b: np.ndarray) -> float:
    c = np.correlate(a, b, mode="full")
    return float(np.max(np.abs(c)) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _draw_templates(n_neurons: int, length: int, rng: np.random.Generator, max_similarity: float = 0.9):
    """Biphasic templates with random shape parameters, redrawn until every pair differs after shifts."""
    templates: list[np.ndarray] = []
    for _ in range(n_neurons):
        for _attempt in range(200):
            w = biphasic_template(
                length,
                trough_pos=rng.uniform(0.25, 0.45),
                trough_width=rng.uniform(0.05, 0.14),
                peak_pos=rng.uniform(0.55, 0.75),
                peak_width=rng.uniform(0.08, 0.2),
                peak_ratio=rng.uniform(0.3, 0.9),
                sign=-1.0 if rng.random() < 0.75 else 1.0,
            )
            if all(_shift_invariant_similarity(w, u) < max_similarity for u in templates):
                break
        templates.append(w)
    return np.stack(templates)


def make_spike_recording(duration_s: float = 10.0, fs: float = 10_000.0, n_neurons: int = 3,
                         firing_rate_hz: float | tuple = 30.0, template_ms: float = 1.8,
                         amplitude: float | tuple = (4.0, 6.0), noise_std: float = 0.1,
                         refractory_ms: float = 2.0, random_state=None):
    """Simulate a single-electrode recording of ``n_neurons`` neurons firing biphasic spikes.

    Each neuron fires a renewal process with an absolute refractory period: inter-spike intervals
    are ``refractory + Exponential`` with the exponential's mean chosen so that the mean rate is
    ``firing_rate_hz``. Every spike adds the neuron's unit-norm template scaled by an amplitude
    drawn uniformly from ``amplitude`` (or fixed, for a number); white Gaussian noise of standard
    deviation ``noise_std`` is added. Spikes of different neurons may overlap, as in real data.

    Parameters
    ----------
    duration_s : float > 0
        Recording length in seconds (lecture: 17 min).
    fs : float > 0
        Sampling rate in Hz (lecture: 10 kHz).
    n_neurons : int >= 1
        Number of neurons (lecture: 3).
    firing_rate_hz : float > 0 or sequence of n_neurons floats
        Mean rate per neuron (lecture: 30 Hz).
    template_ms : float > 0
        Template duration (≈ 1.8 ms gives 18 samples at 10 kHz).
    amplitude : float > 0 or (low, high)
        Spike amplitude (the code value multiplying the unit-norm template), fixed or drawn uniformly per
        spike.
    noise_std : float >= 0
        Standard deviation of the additive white Gaussian noise.
    refractory_ms : float >= 0
        Minimum interval between two spikes of the same neuron.
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    signal : ndarray (n_samples,)
        float64, ``n_samples = round(duration_s * fs)``.
    templates : ndarray (n_neurons, template_length)
        Unit-norm waveforms.
    spike_times : list of n_neurons int arrays
        The sample index of each spike's template onset (the template occupies
        ``signal[t : t + template_length]``).
    """
    duration_s = check_number(duration_s, "duration_s", low=0.0, low_inclusive=False)
    fs = check_number(fs, "fs", low=0.0, low_inclusive=False)
    n_neurons = check_int(n_neurons, "n_neurons", low=1)
    template_ms = check_number(template_ms, "template_ms", low=0.0, low_inclusive=False)
    noise_std = check_number(noise_std, "noise_std", low=0.0)
    refractory_ms = check_number(refractory_ms, "refractory_ms", low=0.0)
    rates = check_array(np.atleast_1d(firing_rate_hz), "firing_rate_hz", ndim=1)
    if rates.size == 1:
        rates = np.repeat(rates, n_neurons)
    if rates.shape != (n_neurons,) or not np.all(np.isfinite(rates)) or np.any(rates <= 0):
        raise ValueError(f"firing_rate_hz must be a positive number or {n_neurons} positive numbers, "
                         f"got {firing_rate_hz!r}")
    refractory_s = refractory_ms / 1e3
    if np.any(refractory_s >= 1.0 / rates):
        raise ValueError(f"refractory_ms={refractory_ms} must be shorter than the mean inter-spike interval "
                         f"1000/firing_rate_hz = {1e3 / rates.max():.3g} ms")
    if isinstance(amplitude, numbers.Real):
        lo = hi = check_number(amplitude, "amplitude", low=0.0, low_inclusive=False)
    else:
        try:
            lo, hi = (float(a) for a in amplitude)
        except (TypeError, ValueError):
            raise ValueError(f"amplitude must be a positive number or a (low, high) pair, got {amplitude!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
            raise ValueError(f"amplitude must satisfy 0 < low <= high, got {amplitude!r}")
    n_samples = int(round(duration_s * fs))
    length = int(round(template_ms * fs / 1e3))
    if length < 4:
        raise ValueError(f"template_ms * fs gives {length} samples; need at least 4 (raise template_ms or fs)")
    if n_samples < 2 * length:
        raise ValueError(f"duration_s * fs = {n_samples} samples is too short for {length}-sample templates")
    rng = check_random_state(random_state)

    templates = _draw_templates(n_neurons, length, rng)
    refr = refractory_s * fs  # in samples
    signal = np.zeros(n_samples)
    spike_times = []
    last_onset = n_samples - length
    for k in range(n_neurons):
        mean_isi = fs / rates[k]
        expo_mean = mean_isi - refr
        n_draw = int(n_samples / mean_isi * 1.2 + 10 * np.sqrt(n_samples / mean_isi) + 20)
        # start in the process's stationary state: first onset uniform over one mean interval
        t = rng.uniform(0, mean_isi)
        times = []
        while t <= last_onset:
            isi = refr + rng.exponential(expo_mean, size=n_draw)
            cum = t + np.concatenate([[0.0], np.cumsum(isi)])
            times.append(cum[:-1])
            t = cum[-1]
        onsets = np.concatenate(times)
        onsets = np.floor(onsets[onsets <= last_onset]).astype(np.int64)
        # flooring keeps the gap >= floor(refr) samples; enforce the exact refractory interval in samples
        keep = np.ones(onsets.size, dtype=bool)
        last = -np.inf
        for i, o in enumerate(onsets):
            if o - last < refr:
                keep[i] = False
            else:
                last = o
        onsets = onsets[keep]
        amps = rng.uniform(lo, hi, size=onsets.size) if hi > lo else np.full(onsets.size, lo)
        impulses = np.zeros(n_samples)
        np.add.at(impulses, onsets, amps)
        signal += np.convolve(impulses, templates[k])[:n_samples]
        spike_times.append(onsets)
    if noise_std > 0:
        signal += noise_std * rng.standard_normal(n_samples)
    return signal, templates, spike_times
