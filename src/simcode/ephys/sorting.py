r"""Multi-channel convolutional spike sorting of SpikeInterface recordings.

Model (Lecture 004, slides "Spatio-temporal generalizations of convolutional model" and "Electrode array —
Neurons — event times/amplitudes"): the preprocessed recording :math:`X \in \mathbb{R}^{T \times C}` is a sum of
spatio-temporal atoms :math:`W_k \in \mathbb{R}^{L \times C}` (one per unit, time × channels) placed at the unit's
spike onsets with non-negative amplitudes, plus noise,

.. math::  X[t, c] = \sum_k \sum_s z_k[s]\, W_k[t - s, c] + \varepsilon[t, c], \qquad z_k \ge 0 \text{ sparse}.

Coding (:func:`template_pursuit`) is a greedy non-negative ℓ0 pursuit (matching pursuit in batches): the
correlations :math:`\langle X, W_k(\cdot - s)\rangle` of every unit at every onset are computed by FFT over the
unit's local channels only (cost linear in the channel count); onsets where the best unit's energy reduction
:math:`2 a\, \mathrm{score} - a^2 \|W_k\|^2` (with :math:`a = \mathrm{score} / \|W_k\|^2` clipped to
``amplitude_range``) is a local maximum over ±(L − 1) samples and exceeds ``match_threshold``² are accepted
together, their contributions are removed from all correlations through the precomputed template
cross-correlations, and the passes repeat until no onset is accepted. Long recordings are coded in chunks read
through ``recording.get_traces`` with a margin of ``3 L`` samples on each side; a spike belongs to the chunk whose
core holds it, so the result does not depend on the chunk size (as long as no cascade of overlapping spikes is
longer than the margin).

Initialisation needs no ground truth: negative threshold crossings (``detect_threshold`` × the channel's MAD noise
level, local minima over time and neighbouring channels) in windows spread over the recording → waveforms on the
peak channel's neighbourhood (``radius_um`` of the probe geometry) → per-channel PCA → k-means over-clustering →
agglomerative merging of clusters whose mean waveforms (in noise units) are closer than ``merge_distance``
(squared distance at the best lag within ±8 samples below ``merge_distance`` + 2 % of the smaller atom's energy;
default ``merge_distance = match_threshold²``: two atoms the pursuit could not tell apart over the noise are one
unit), dropping clusters under ``min_spikes`` detections, and keeping the
``n_units`` largest when it is given → atoms. Refinement (``n_refine`` rounds) codes the
initialisation windows and replaces each atom by the least-squares template given the codes,
:math:`W_k \leftarrow \sum_i a_i (R[s_i:s_i+L] + a_i W_k) / \sum_i a_i^2` (R the residual), the dictionary step of
convolutional dictionary learning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft
from scipy.ndimage import maximum_filter1d

from ..core import SolverResult, check_array, check_bool, check_int, check_number, check_random_state
from ._pursuit import add_snippets, empty_spikes, subtract_spikes, synthesize

__all__ = ["SortResult", "sort", "template_pursuit", "score_sorting"]


@dataclass
class SortResult(SolverResult):
    """What :func:`sort` returns.

    Attributes
    ----------
    sorting : ``spikeinterface.core.NumpySorting`` (spike frames at the template trough; unit ids ``0..K-1``).
    templates : (K, L, C) learned atoms in the preprocessed traces' units (units × time × channels, SpikeInterface's
        layout); sample ``nbefore`` is the trough.
    nbefore : samples before the trough in a template.
    spike_amplitudes : list (one per segment) of the code amplitude of each spike, in the order of
        ``sorting.to_spike_vector()`` restricted to that segment (sorted by time).
    noise_levels : (C,) MAD noise level per channel of the preprocessed traces.
    dead_channels : channel ids ignored because they are flat (zero noise).
    sparsity : (K, C) boolean mask of each atom's channels.
    message : why the result is empty, if it is.
    """

    sorting: object = None
    templates: np.ndarray = None
    nbefore: int = 0
    spike_amplitudes: list = field(default_factory=list)
    noise_levels: np.ndarray = None
    dead_channels: list = field(default_factory=list)
    sparsity: np.ndarray = None
    message: str = ""


# ---------------------------------------------------------------------------------------------------------------
# the coder


class _Coder:
    """FFT correlations over local channels + batched greedy pursuit, for a fixed chunk length."""

    def __init__(self, templates, sparsity, amplitude_range, match_threshold, n_jobs=1, max_passes=100):
        self.W = np.ascontiguousarray(templates, dtype=np.float64)            # (K, L, C)
        K, L, C = self.W.shape
        self.K, self.L, self.C = K, L, C
        self.sparsity = sparsity
        self.M = max(1, int(sparsity.sum(1).max()))
        self.chan = np.zeros((K, self.M), np.int64)
        self.cmask = np.zeros((K, self.M), bool)
        for k in range(K):
            ch = np.flatnonzero(sparsity[k])
            self.chan[k, :ch.size] = ch
            self.cmask[k, :ch.size] = True
        self.norms = np.einsum("klc,klc->k", self.W, self.W)
        self.amin, self.amax = amplitude_range
        self.thr = float(match_threshold) ** 2
        self.workers = n_jobs
        self.max_passes = max_passes
        n2 = sfft.next_fast_len(2 * L)
        Wf = sfft.rfft(self.W, n=n2, axis=1)                                  # (K, F, C)
        # cc[k, j, d + L - 1] = sum_{t,c} W_k[t, c] W_j[t + d, c]
        ccf = np.einsum("kfc,jfc->kjf", np.conj(Wf), Wf)
        cc = sfft.irfft(ccf, n=n2, axis=2)
        self.cc = np.ascontiguousarray(np.concatenate([cc[..., n2 - (L - 1):], cc[..., :L]], axis=2))
        self._nfft = None

    def _prepare(self, nfft):
        if self._nfft == nfft:
            return
        Wt = np.transpose(self.W, (0, 2, 1))                                  # (K, C, L)
        loc = np.take_along_axis(Wt, self.chan[:, :, None], axis=1) * self.cmask[:, :, None]
        self._Wf = np.conj(sfft.rfft(loc, n=nfft, axis=2, workers=self.workers)).astype(np.complex128)
        self._nfft = nfft

    def scores(self, x):
        T = x.shape[0]
        N = T - self.L + 1
        nfft = sfft.next_fast_len(T)
        self._prepare(nfft)
        X = sfft.rfft(x, n=nfft, axis=0, workers=self.workers).T                # (C, F)
        acc = np.einsum("kmf,kmf->kf", self._Wf, X[self.chan])
        return np.ascontiguousarray(sfft.irfft(acc, n=nfft, axis=1, workers=self.workers)[:, :N])

    def _best(self, score, cols):
        """Best unit's energy reduction 2 a s − a² ‖W‖² (a = s/‖W‖² clipped to amax, 0 when a < amin) per onset."""
        sc = score[:, cols]
        nrm = self.norms[:, None]
        a = np.minimum(sc / nrm, self.amax)
        gain = np.where(a >= self.amin, 2 * a * sc - a * a * nrm, 0.0)
        return gain.max(0), gain.argmax(0)

    def code(self, x):
        """Greedy pursuit on traces x (T, C) → (units, onsets, amplitudes, n_passes, converged)."""
        if x.shape[0] < self.L or self.K == 0:
            return (*empty_spikes(), 0, True)
        score = self.scores(x)
        half = self.L - 1
        units, onsets, amps = [], [], []
        converged = False
        n_pass = 0
        N = score.shape[1]
        best, arg = self._best(score, slice(None))
        for _ in range(self.max_passes):
            n_pass += 1
            mf = maximum_filter1d(best, size=2 * half + 1, mode="constant", cval=0.0)
            acc = np.flatnonzero((best >= mf) & (best > self.thr))
            if acc.size > 1:  # plateaus: keep the first of equal maxima closer than L
                keep = np.ones(acc.size, bool)
                keep[1:] = np.diff(acc) > half
                acc = acc[keep]
            if acc.size == 0:
                converged = True
                break
            j = arg[acc].astype(np.int64)
            aa = np.minimum(score[j, acc] / self.norms[j], self.amax)
            subtract_spikes(score, self.cc, j, acc.astype(np.int64), aa)
            units.append(j)
            onsets.append(acc.astype(np.int64))
            amps.append(aa)
            # only the correlations within ±(L − 1) of an accepted onset changed
            d = np.zeros(N + 1, np.int64)
            np.add.at(d, np.maximum(acc - half, 0), 1)
            np.add.at(d, np.minimum(acc + half + 1, N), -1)
            cols = np.flatnonzero(np.cumsum(d[:N]) > 0)
            best[cols], arg[cols] = self._best(score, cols)
        if not units:
            return (*empty_spikes(), n_pass, converged)
        u, s, a = np.concatenate(units), np.concatenate(onsets), np.concatenate(amps)
        # a unit accepted twice at the same onset (two passes) is one spike of the summed amplitude
        key = s * self.K + u
        o = np.argsort(key, kind="stable")
        key, u, s, a = key[o], u[o], s[o], a[o]
        first = np.ones(key.size, bool)
        first[1:] = key[1:] != key[:-1]
        grp = np.cumsum(first) - 1
        a = np.bincount(grp, weights=a)
        u, s = u[first], s[first]
        o = np.lexsort((u, s))
        return u[o], s[o], a[o], n_pass, converged


def template_pursuit(traces, templates, *, match_threshold: float = 5.0, amplitude_range=(0.5, 2.0),
                     sparsity=None):
    """Code multi-channel ``traces`` with spatio-temporal ``templates`` by batched non-negative matching pursuit.

    Parameters
    ----------
    traces : (T, C) array (noise roughly unit variance per channel).
    templates : (K, L, C) array, one spatio-temporal atom per unit.
    match_threshold : a spike is kept when its energy reduction ``2 a s − a² ‖W‖²`` exceeds ``match_threshold²``.
    amplitude_range : (low, high) accepted code amplitudes (the amplitude is clipped to ``high``).
    sparsity : optional (K, C) boolean mask of each atom's channels (default: channels where the atom is non-zero).

    Returns
    -------
    onsets : int array (template onset sample; the spike is at ``onset + nbefore``), labels : unit index,
    amplitudes : code values, sorted by onset. Equation and method: see the module docstring.
    """
    x = check_array(traces, "traces", ndim=2, dtype="floating")
    W = check_array(templates, "templates", ndim=3, dtype="floating")
    if W.shape[2] != x.shape[1]:
        raise ValueError(f"templates have {W.shape[2]} channels but traces have {x.shape[1]}")
    match_threshold = check_number(match_threshold, "match_threshold", low=0.0, low_inclusive=False)
    lo, hi = _check_range(amplitude_range)
    if sparsity is None:
        sparsity = np.any(W != 0, axis=1)
    else:
        sparsity = np.asarray(sparsity, dtype=bool)
        if sparsity.shape != W.shape[::2]:
            raise ValueError(f"sparsity must have shape {W.shape[::2]}, got {sparsity.shape}")
    coder = _Coder(W, sparsity, (lo, hi), match_threshold)
    u, s, a, _, _ = coder.code(np.asarray(x, dtype=np.float64))
    o = np.lexsort((u, s))
    return s[o], u[o], a[o]


def _check_range(amplitude_range):
    try:
        lo, hi = (float(v) for v in amplitude_range)
    except (TypeError, ValueError):
        raise ValueError(f"amplitude_range must be two numbers (low, high), got {amplitude_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"amplitude_range must satisfy 0 < low <= high (finite), got {amplitude_range!r}")
    return lo, hi


# ---------------------------------------------------------------------------------------------------------------
# reading the recording


def _as_recording(recording, sampling_frequency):
    from spikeinterface.core import BaseRecording, NumpyRecording

    if isinstance(recording, BaseRecording):
        fs = float(recording.get_sampling_frequency())
        if sampling_frequency is not None:
            sf = check_number(sampling_frequency, "sampling_frequency", low=0.0, low_inclusive=False)
            if not np.isclose(sf, fs):
                raise ValueError(f"sampling_frequency={sf} does not match the recording's sampling frequency {fs}")
        return recording
    x = check_array(recording, "recording", ndim=2, dtype="floating",
                    what="a SpikeInterface BaseRecording or a (T, C) array of traces")
    if sampling_frequency is None:
        raise ValueError("sampling_frequency is required when recording is an array of traces")
    sf = check_number(sampling_frequency, "sampling_frequency", low=0.0, low_inclusive=False)
    rec = NumpyRecording([np.asarray(x, dtype=np.float32)], sampling_frequency=sf)
    C = x.shape[1]
    from probeinterface import generate_linear_probe

    probe = generate_linear_probe(num_elec=C, ypitch=20)
    probe.set_device_channel_indices(np.arange(C))
    out = rec.set_probe(probe)  # in place on recent SpikeInterface (returns None), a copy on older ones
    return rec if out is None else out


def _read(rec, seg, start, end, n_frames, margin):
    """Traces [start − margin, end + margin) clipped to the segment; returns (x, offset of `start` in x)."""
    a = max(0, start - margin)
    b = min(n_frames, end + margin)
    x = rec.get_traces(segment_index=seg, start_frame=a, end_frame=b, return_in_uV=False)
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
        raise ValueError(f"recording has NaN/inf samples in segment {seg} (frames {a + bad[0]}–{a + bad[-1]}); "
                         f"remove or interpolate them (e.g. spikeinterface.preprocessing.remove_artifacts) first")
    return x, start - a


def _neighbours(locations, radius_um):
    d = np.linalg.norm(locations[:, None, :] - locations[None, :, :], axis=2)
    nb = d <= radius_um
    M = int(nb.sum(1).max())
    idx = np.zeros((len(locations), M), np.int64)
    msk = np.zeros((len(locations), M), bool)
    for c in range(len(locations)):
        ch = np.flatnonzero(nb[c])
        ch = ch[np.argsort(d[c, ch], kind="stable")]
        idx[c, :ch.size] = ch
        idx[c, ch.size:] = c
        msk[c, :ch.size] = True
    return idx, msk


def _windows(rec, duration_s, win_s):
    """Up to duration_s seconds of windows of win_s seconds, evenly spread over all segments."""
    fs = rec.get_sampling_frequency()
    w = int(round(win_s * fs))
    out = []
    lens = [rec.get_num_frames(s) for s in range(rec.get_num_segments())]
    total = sum(lens)
    n = max(1, int(np.ceil(min(duration_s * fs, total) / w)))
    starts = np.linspace(0, max(0, total - w), n).astype(np.int64)
    cum = np.cumsum([0] + lens)
    for g in starts:
        seg = int(np.searchsorted(cum, g, side="right") - 1)
        s0 = int(g - cum[seg])
        out.append((seg, s0, min(s0 + w, lens[seg])))
    return sorted(set(out))


# ---------------------------------------------------------------------------------------------------------------
# initialisation


def _detect(z, nbr, exclude, lo, hi, thr):
    """Local maxima of z = −x/σ (C, T) over ±exclude samples and neighbouring channels, above thr."""
    zt = maximum_filter1d(z, size=2 * exclude + 1, axis=1, mode="nearest")
    zs = zt.copy()
    for m in range(nbr.shape[1]):
        np.maximum(zs, zt[nbr[:, m]], out=zs)
    pk = (z >= zs) & (z > thr)
    pk[:, :lo] = False
    pk[:, hi:] = False
    c, t = np.nonzero(pk)
    if t.size > 1:  # equal peaks on two channels: keep the first by time then channel
        o = np.lexsort((c, t))
        c, t = c[o], t[o]
    return t, c


def _cluster_templates(snips, pchan, nbr, nmask, C, n_units, merge_distance, min_spikes, rng, n_feat=3):
    """Per-channel PCA → k-means over-clustering → merge similar mean waveforms → (templates, counts)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    N, L, M = snips.shape
    m = nmask[pchan]                                                            # (N, M)
    pooled = np.transpose(snips, (0, 2, 1))[m]                                  # (n, L)
    sub = pooled[rng.choice(pooled.shape[0], min(pooled.shape[0], 20000), replace=False)]
    pca = PCA(n_components=min(n_feat, L, sub.shape[0]), random_state=0).fit(sub)
    p = pca.n_components_
    loc = pca.transform(np.transpose(snips, (0, 2, 1)).reshape(N * M, L)).reshape(N, M, p) * m[:, :, None]
    F = np.zeros((N, C, p))
    rows = np.repeat(np.arange(N), M)
    np.add.at(F, (rows, nbr[pchan].ravel()), loc.reshape(N * M, p))
    F = F.reshape(N, C * p)
    k0 = max(8, 3 * C, 2 * (n_units or 0))
    k0 = int(min(k0, max(1, N // max(1, min_spikes // 2))))
    lab = KMeans(n_clusters=k0, n_init=3, random_state=int(rng.integers(2**31))).fit_predict(F)
    # cluster means on all channels (sparse accumulation over each peak's neighbourhood)
    S = np.zeros((k0, L, C))
    cnt = np.zeros((k0, C))
    for i in range(M):
        ch = nbr[pchan, i]
        ok = m[:, i]
        np.add.at(S, (lab[ok], slice(None), ch[ok]), snips[ok, :, i])
        np.add.at(cnt, (lab[ok], ch[ok]), 1.0)
    T = S / np.maximum(cnt, 1)[:, None, :]
    n = np.bincount(lab, minlength=k0).astype(float)
    T, n = _merge(T, n, merge_distance)
    keep = n >= min_spikes
    T, n = T[keep], n[keep]
    if n_units is not None and T.shape[0] > n_units:  # keep the n_units clusters with the most detections
        top = np.sort(np.argsort(-n, kind="stable")[:n_units])
        T, n = T[top], n[top]
    return T, n


def _distance(T, max_lag=8):
    """Squared distance ‖T_i − T_j‖² at the best lag within ±max_lag samples (noise units), +inf on the diagonal."""
    K, L, C = T.shape
    sq = np.einsum("klc,klc->k", T, T)
    best = np.full((K, K), np.inf)
    for d in range(-max_lag, max_lag + 1):
        a = T[:, max(0, d):L + min(0, d)].reshape(K, -1)
        b = T[:, max(0, -d):L + min(0, -d)].reshape(K, -1)
        best = np.minimum(best, sq[:, None] + sq[None, :] - 2 * (a @ b.T))
    np.fill_diagonal(best, np.inf)
    return best


def _merge(T, n, thr, rel=0.02):
    T, n = T.copy(), n.copy()
    while T.shape[0] > 1:
        sq = np.einsum("klc,klc->k", T, T)
        dist = _distance(T) - rel * np.minimum(sq[:, None], sq[None, :])
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        if dist[i, j] >= thr:
            break
        T[i] = (n[i] * T[i] + n[j] * T[j]) / (n[i] + n[j])
        n[i] += n[j]
        T, n = np.delete(T, j, 0), np.delete(n, j)
    return T, n


def _sparsify(T, nbr, nmask, nbefore, frac=0.1):
    """Each atom keeps the channels of its trough channel's neighbourhood whose peak-to-peak ≥ frac × its max."""
    K, L, C = T.shape
    ptp = T.max(1) - T.min(1)
    main = np.argmin(T[:, nbefore, :], axis=1)
    sp = np.zeros((K, C), bool)
    for k in range(K):
        ch = nbr[main[k]][nmask[main[k]]]
        sp[k, ch[ptp[k, ch] >= frac * ptp[k].max()]] = True
    return T * sp[:, None, :], sp


# ---------------------------------------------------------------------------------------------------------------
# the sorter


def sort(recording, *, n_units: int | None = None, sampling_frequency: float | None = None, preprocess: bool = True,
         freq_min: float = 300.0, freq_max: float = 6000.0, common_reference: bool | None = None,
         detect_threshold: float = 5.0, match_threshold: float = 5.0, amplitude_range=(0.5, 2.0),
         ms_before: float = 1.0, ms_after: float = 1.5, radius_um: float = 100.0, chunk_duration: float = 1.0,
         init_duration: float = 60.0, max_spikes_init: int = 20000, n_refine: int = 1,
         merge_distance: float | None = None, min_spikes: int = 20, n_jobs: int = 1, random_state=None,
         verbose: bool = False, callback=None) -> SortResult:
    """Sort a SpikeInterface recording by multi-channel convolutional dictionary learning + template pursuit.

    Parameters
    ----------
    recording : ``spikeinterface.core.BaseRecording`` (any format SpikeInterface reads; traces are read in chunks
        with ``get_traces``, never all at once), or a (T, C) array with ``sampling_frequency``.
    n_units : number of units; ``None`` → chosen by the merge criterion (k-means over-clustering, clusters merged
        while two mean waveforms are closer than ``merge_distance`` (noise units), clusters under ``min_spikes``
        detections dropped); when given, the ``n_units`` merged clusters with the most detections are kept.
    sampling_frequency : required for an array; for a recording, checked against it (a mismatch is an error).
    preprocess : band-pass ``freq_min``–``freq_max`` Hz (``spikeinterface.preprocessing.bandpass_filter``) and, when
        ``common_reference`` (default: with ≥ 8 channels), a global median reference
        (``spikeinterface.preprocessing.common_reference``).
    detect_threshold : threshold crossings for the initialisation, in MAD noise levels of each channel.
    match_threshold, amplitude_range : the pursuit's acceptance rule (see :func:`template_pursuit`), on traces
        divided by each channel's noise level.
    ms_before, ms_after : template extent around the trough.
    radius_um : channel neighbourhood (probe geometry, ``recording.get_channel_locations()``).
    chunk_duration : seconds per coded chunk (a margin of 3 template lengths is read on each side).
    init_duration : seconds of the recording (windows of 2 s spread evenly) used to learn the templates.
    max_spikes_init : at most this many detections are clustered.
    n_refine : rounds of the least-squares template update on the initialisation windows.
    n_jobs : FFT worker threads.
    verbose : print progress; callback : called as ``callback(done_chunks, n_chunks)`` after each coded chunk.

    Returns
    -------
    :class:`SortResult` (``.sorting`` a ``NumpySorting``, ``.templates`` (K, L, C)); ``status`` is ``"converged"``
    when every chunk's pursuit stopped by itself (else ``"max_iter"``); an empty sorting with ``message`` when
    no unit is found.
    """
    import spikeinterface.preprocessing as spre
    from spikeinterface.core import NumpySorting

    t_start = time.perf_counter()
    rec = _as_recording(recording, sampling_frequency)
    fs = float(rec.get_sampling_frequency())
    if n_units is not None:
        n_units = check_int(n_units, "n_units", low=1)
    preprocess = check_bool(preprocess, "preprocess")
    detect_threshold = check_number(detect_threshold, "detect_threshold", low=0.0, low_inclusive=False)
    match_threshold = check_number(match_threshold, "match_threshold", low=0.0, low_inclusive=False)
    amplitude_range = _check_range(amplitude_range)
    ms_before = check_number(ms_before, "ms_before", low=0.0, low_inclusive=False)
    ms_after = check_number(ms_after, "ms_after", low=0.0, low_inclusive=False)
    radius_um = check_number(radius_um, "radius_um", low=0.0)
    chunk_duration = check_number(chunk_duration, "chunk_duration", low=0.0, low_inclusive=False)
    init_duration = check_number(init_duration, "init_duration", low=0.0, low_inclusive=False)
    max_spikes_init = check_int(max_spikes_init, "max_spikes_init", low=1)
    n_refine = check_int(n_refine, "n_refine", low=0)
    merge_distance = match_threshold ** 2 if merge_distance is None else \
        check_number(merge_distance, "merge_distance", low=0.0)
    min_spikes = check_int(min_spikes, "min_spikes", low=1)
    n_jobs = check_int(n_jobs, "n_jobs", low=1)
    verbose = check_bool(verbose, "verbose")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    rng = check_random_state(random_state)
    if preprocess:
        freq_min = check_number(freq_min, "freq_min", low=0.0, low_inclusive=False)
        freq_max = check_number(freq_max, "freq_max", low=freq_min, low_inclusive=False)
        if freq_max >= fs / 2:
            raise ValueError(f"freq_max={freq_max} must be below the Nyquist frequency {fs / 2} of the recording")
        rec = spre.bandpass_filter(rec, freq_min=freq_min, freq_max=freq_max, dtype="float32")
        C0 = rec.get_num_channels()
        if common_reference if common_reference is not None else C0 >= 8:
            rec = spre.common_reference(rec, reference="global", operator="median")
    C = rec.get_num_channels()
    nb, na = int(round(ms_before * fs / 1000)), int(round(ms_after * fs / 1000))
    L = nb + na + 1
    margin = 3 * L
    try:
        loc = np.asarray(rec.get_channel_locations(), dtype=float)
    except Exception:  # no probe attached: channels on a line, 20 µm apart
        loc = np.c_[np.zeros(C), 20.0 * np.arange(C)]
    nbr, nmask = _neighbours(loc, radius_um)
    seg_frames = [rec.get_num_frames(s) for s in range(rec.get_num_segments())]

    def empty(msg, noise=None, dead=()):
        sorting = NumpySorting.from_samples_and_labels([np.zeros(0, np.int64)] * len(seg_frames),
                                                       [np.zeros(0, np.int64)] * len(seg_frames), fs)
        return SortResult(status="converged", sorting=sorting, templates=np.zeros((0, L, C)), nbefore=nb,
                          spike_amplitudes=[np.zeros(0)] * len(seg_frames), noise_levels=noise,
                          dead_channels=list(dead), sparsity=np.zeros((0, C), bool), message=msg,
                          time_s=time.perf_counter() - t_start)

    if max(seg_frames) < 2 * L:
        return empty(f"recording too short ({max(seg_frames)} frames) for templates of {L} samples")

    # --- noise levels and initialisation windows
    wins = _windows(rec, init_duration, 2.0)
    xs = [_read(rec, s, a, b, seg_frames[s], 0)[0] for s, a, b in wins[:: max(1, len(wins) // 5)]]
    noise = np.median(np.abs(np.concatenate(xs) - np.median(np.concatenate(xs), 0)), 0) / 0.6744897501960817
    dead_idx = np.flatnonzero(noise <= 1e-6 * max(noise.max(), 1e-30))
    dead = [rec.channel_ids[i] for i in dead_idx]
    alive = np.ones(C, bool)
    alive[dead_idx] = False
    if not alive.any():
        return empty("every channel is flat (zero noise): nothing to sort", noise, dead)
    if dead:
        import warnings

        warnings.warn(f"ignoring flat (dead) channels {dead}", RuntimeWarning, stacklevel=2)
    scale = np.where(alive, 1.0 / np.where(alive, noise, 1.0), 0.0)
    # remove dead channels from the neighbourhoods
    nmask = nmask & alive[nbr]
    excl = max(1, int(round(0.4e-3 * fs)))
    snips, pch, n_seen = [], [], 0
    for s, a, b in wins:
        x, off = _read(rec, s, a, b, seg_frames[s], 0)
        xn = x * scale
        t, c = _detect(-xn.T, nbr, excl, nb, xn.shape[0] - na - 1, detect_threshold)
        keep = alive[c]
        t, c = t[keep], c[keep]
        if t.size == 0:
            continue
        idx = t[:, None] + np.arange(-nb, na + 1)[None, :]                         # (n, L)
        w = xn[idx[:, :, None], nbr[c][:, None, :]]                                  # (n, L, M)
        snips.append(w.astype(np.float32))
        pch.append(c)
        n_seen += t.size
        if n_seen >= 4 * max_spikes_init:
            break
    if not snips:
        return empty("no threshold crossing above detect_threshold: zero units found", noise, dead)
    snips, pch = np.concatenate(snips), np.concatenate(pch)
    if snips.shape[0] > max_spikes_init:
        sel = np.sort(rng.choice(snips.shape[0], max_spikes_init, replace=False))
        snips, pch = snips[sel], pch[sel]
    if snips.shape[0] < min_spikes:
        return empty(f"{snips.shape[0]} threshold crossings (< min_spikes={min_spikes}): zero units found",
                     noise, dead)
    T, counts = _cluster_templates(snips.astype(np.float64), pch, nbr, nmask, C, n_units, merge_distance,
                                   min_spikes, rng)
    if T.shape[0] == 0:
        return empty(f"no cluster with ≥ min_spikes={min_spikes} detections: zero units found", noise, dead)
    T, sp = _sparsify(T, nbr, nmask, nb)
    if verbose:
        print(f"[simcode.ephys.sort] {T.shape[0]} units from {snips.shape[0]} detections "
              f"({time.perf_counter() - t_start:.1f} s)")

    # --- refinement: least-squares template update given the codes (CDL dictionary step)
    hist_units = [T.shape[0]]
    for _ in range(n_refine):
        coder = _Coder(T, sp, amplitude_range, match_threshold, n_jobs)
        num = np.zeros_like(T)
        den = np.zeros(T.shape[0])
        for s, a, b in wins:
            x, off = _read(rec, s, a, b, seg_frames[s], 0)
            xn = x * scale
            u, o, amp, _, _ = coder.code(xn)
            if u.size == 0:
                continue
            resid = xn.copy()
            synthesize(resid, u, o, -amp, T)
            add_snippets(num, resid, u, o, amp, T)
            den += np.bincount(u, weights=amp * amp, minlength=T.shape[0])
        ok = den > 0
        T = np.where(ok[:, None, None], num / np.maximum(den, 1e-12)[:, None, None], T) * sp[:, None, :]
        T, sp = T[ok], sp[ok]
        hist_units.append(T.shape[0])
        if T.shape[0] == 0:
            return empty("refinement left no unit with detections: zero units found", noise, dead)

    # --- coding the whole recording in chunks
    coder = _Coder(T, sp, amplitude_range, match_threshold, n_jobs)
    chunk = max(L, int(round(chunk_duration * fs)))
    jobs = [(s, a, min(a + chunk, n)) for s, n in enumerate(seg_frames) for a in range(0, n, chunk)]
    samples, labels, amps = [[] for _ in seg_frames], [[] for _ in seg_frames], [[] for _ in seg_frames]
    passes, all_conv = [], True
    for i, (s, a, b) in enumerate(jobs):
        x, off = _read(rec, s, a, b, seg_frames[s], margin)
        u, o, amp, npass, conv = coder.code(x * scale)
        passes.append(npass)
        all_conv &= conv
        t = o + nb - off                                                              # trough, relative to a
        keep = (t >= 0) & (t < b - a)
        samples[s].append(t[keep] + a)
        labels[s].append(u[keep])
        amps[s].append(amp[keep])
        if callback is not None:
            callback(i + 1, len(jobs))
        if verbose and (i + 1) % max(1, len(jobs) // 10) == 0:
            print(f"[simcode.ephys.sort] chunk {i + 1}/{len(jobs)} ({time.perf_counter() - t_start:.1f} s)")
    smp = [np.concatenate(v) if v else np.zeros(0, np.int64) for v in samples]
    lab = [np.concatenate(v) if v else np.zeros(0, np.int64) for v in labels]
    amp = [np.concatenate(v) if v else np.zeros(0) for v in amps]
    for s in range(len(smp)):
        o = np.lexsort((lab[s], smp[s]))
        smp[s], lab[s], amp[s] = smp[s][o], lab[s][o], amp[s][o]
    sorting = NumpySorting.from_samples_and_labels(smp, lab, fs, unit_ids=np.arange(T.shape[0]))
    templates = T / np.where(scale > 0, scale, 1.0)[None, None, :]
    return SortResult(status="converged" if all_conv else "max_iter", n_iter=int(max(passes, default=0)),
                      history={"passes_per_chunk": np.asarray(passes, float),
                               "units_per_round": np.asarray(hist_units, float)},
                      time_s=time.perf_counter() - t_start, sorting=sorting, templates=templates, nbefore=nb,
                      spike_amplitudes=amp, noise_levels=noise, dead_channels=dead, sparsity=sp)


def score_sorting(result, gt_sorting, *, delta_time: float = 0.4, well_detected_score: float = 0.8) -> dict:
    """Per-unit accuracy, precision and recall against ground truth (``spikeinterface.comparison``).

    Parameters
    ----------
    result : a :class:`SortResult` or a ``BaseSorting``; gt_sorting : the ground-truth ``BaseSorting``.
    delta_time : matching tolerance (ms); well_detected_score : accuracy above which a unit is well detected.

    Returns
    -------
    dict with arrays ``accuracy``, ``precision``, ``recall`` (one per ground-truth unit, Hungarian matching;
    accuracy = tp / (tp + fn + fp)), their means, and ``n_well_detected``.
    """
    from spikeinterface.comparison import compare_sorter_to_ground_truth
    from spikeinterface.core import BaseSorting

    sorting = result.sorting if isinstance(result, SortResult) else result
    if not isinstance(sorting, BaseSorting):
        raise TypeError(f"result must be a SortResult or a SpikeInterface BaseSorting, got {type(result).__name__}")
    if not isinstance(gt_sorting, BaseSorting):
        raise TypeError(f"gt_sorting must be a SpikeInterface BaseSorting, got {type(gt_sorting).__name__}")
    delta_time = check_number(delta_time, "delta_time", low=0.0, low_inclusive=False)
    well_detected_score = check_number(well_detected_score, "well_detected_score", low=0.0, high=1.0)
    if not np.isclose(sorting.get_sampling_frequency(), gt_sorting.get_sampling_frequency()):
        raise ValueError(f"result's sampling frequency {sorting.get_sampling_frequency()} differs from "
                         f"gt_sorting's {gt_sorting.get_sampling_frequency()}")
    cmp = compare_sorter_to_ground_truth(gt_sorting, sorting, delta_time=delta_time, exhaustive_gt=True)
    perf = cmp.get_performance(method="by_unit")
    out = {k: perf[k].to_numpy(dtype=float) for k in ("accuracy", "precision", "recall")}
    out.update({f"mean_{k}": float(np.mean(v)) if v.size else 0.0 for k, v in list(out.items())})
    out["n_well_detected"] = int(np.sum(out["accuracy"] >= well_detected_score))
    out["n_units_found"] = int(len(sorting.unit_ids))
    return out
