"""Tests for simcode.data.spikes.make_spike_recording (independent checks: explicit reconstruction, statistics)."""

import numpy as np
import pytest

from simcode.data.spikes import make_spike_recording


def test_shapes_and_templates():
    sig, tmpl, times = make_spike_recording(duration_s=2.0, fs=10_000, n_neurons=3, template_ms=1.8,
                                            random_state=0)
    assert sig.shape == (20_000,)
    assert tmpl.shape == (3, 18)
    assert len(times) == 3 and all(t.dtype.kind == "i" for t in times)
    np.testing.assert_allclose(np.linalg.norm(tmpl, axis=1), 1.0, rtol=1e-12)
    for w in tmpl:  # biphasic: a trough and a peak of opposite signs
        assert w.min() < -0.05 and w.max() > 0.05
    for t in times:
        assert t.min() >= 0 and t.max() + 18 <= 20_000


def test_seed_reproduces_and_differs():
    a = make_spike_recording(duration_s=1.0, random_state=3)
    b = make_spike_recording(duration_s=1.0, random_state=3)
    c = make_spike_recording(duration_s=1.0, random_state=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_signal_is_sum_of_templates_without_noise():
    sig, tmpl, times = make_spike_recording(duration_s=1.0, amplitude=5.0, noise_std=0.0, random_state=1)
    ref = np.zeros_like(sig)
    L = tmpl.shape[1]
    for k, tk in enumerate(times):
        for t in tk:
            ref[t:t + L] += 5.0 * tmpl[k]
    np.testing.assert_allclose(sig, ref, atol=1e-10)


def test_firing_rate_and_refractory_period():
    fs, rate, refr, dur = 10_000, 30.0, 2.0, 100.0
    sig, tmpl, times = make_spike_recording(duration_s=dur, fs=fs, n_neurons=3, firing_rate_hz=rate,
                                            refractory_ms=refr, noise_std=0.0, random_state=2)
    for t in times:
        n = t.size
        expected = rate * dur
        # renewal process with ISI = refr + Exp: count variance ≈ expected * CV², CV < 1; 5 sigma band
        assert abs(n - expected) < 5 * np.sqrt(expected), (n, expected)
        assert np.diff(t).min() >= refr * fs / 1000  # no interval shorter than the refractory period
        # ISIs beyond the refractory period are exponential: mean excess ≈ 1/rate - refr
        excess = np.diff(t) / fs - refr / 1000
        assert abs(excess.mean() - (1 / rate - refr / 1000)) < 0.1 * (1 / rate)


def test_amplitude_range_and_noise_level():
    sig, tmpl, times = make_spike_recording(duration_s=5.0, firing_rate_hz=1.0, amplitude=(4, 6),
                                            noise_std=0.3, random_state=5)
    # far from spikes the signal is the noise alone
    mask = np.ones(sig.size, bool)
    for t in times:
        for s in t:
            mask[max(0, s - 5): s + 25] = False
    assert abs(sig[mask].std() - 0.3) < 0.02


@pytest.mark.parametrize("kwargs, name, exc", [
    ({"duration_s": -1}, "duration_s", ValueError),
    ({"fs": 0}, "fs", ValueError),
    ({"n_neurons": 0}, "n_neurons", ValueError),
    ({"n_neurons": 2.5}, "n_neurons", TypeError),
    ({"firing_rate_hz": -3}, "firing_rate_hz", ValueError),
    ({"firing_rate_hz": [1, 2]}, "firing_rate_hz", ValueError),
    ({"template_ms": 0}, "template_ms", ValueError),
    ({"template_ms": 0.1}, "template_ms", ValueError),
    ({"amplitude": (6, 4)}, "amplitude", ValueError),
    ({"amplitude": "big"}, "amplitude", ValueError),
    ({"noise_std": -0.1}, "noise_std", ValueError),
    ({"refractory_ms": 50, "firing_rate_hz": 30}, "refractory_ms", ValueError),
    ({"random_state": "x"}, "random_state", ValueError),
    ({"duration_s": "10"}, "duration_s", TypeError),
    ({"firing_rate_hz": [30.0, np.nan, 30.0]}, "firing_rate_hz", ValueError),
    ({"noise_std": True}, "noise_std", TypeError),
])
def test_bad_arguments_raise(kwargs, name, exc):
    with pytest.raises(exc, match=name):
        make_spike_recording(**kwargs)
