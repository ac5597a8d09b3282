"""simcode.ephys: multi-channel spike sorting scored against SpikeInterface's independent ground truth."""

import numpy as np
import pytest

pytest.importorskip("spikeinterface")

from spikeinterface.core import NumpyRecording, generate_ground_truth_recording  # noqa: E402

from simcode.ephys import score_sorting, sort, template_pursuit  # noqa: E402


@pytest.fixture(scope="module")
def gt4():
    return generate_ground_truth_recording(durations=[20.0], num_channels=4, num_units=4, seed=1)


def test_accuracy_against_the_generators_ground_truth(gt4):
    # ground truth from spikeinterface's generator, scored by spikeinterface.comparison (Hungarian matching);
    # simcode criterion: mean accuracy ≥ 0.9 on 4 well-separated units at the generator's default SNR
    rec, gt = gt4
    res = sort(rec, n_units=4, random_state=0)
    s = score_sorting(res, gt)
    assert res.templates.shape == (4, res.templates.shape[1], 4)
    assert s["mean_accuracy"] >= 0.9, s


def test_chunked_coding_does_not_depend_on_the_chunk_size(gt4):
    # identity of the chunked coder: each spike is decided inside a margin of 3 template lengths
    rec, _ = gt4
    a = sort(rec, n_units=4, random_state=0, chunk_duration=1.0)
    b = sort(rec, n_units=4, random_state=0, chunk_duration=0.37)
    va, vb = a.sorting.to_spike_vector(), b.sorting.to_spike_vector()
    np.testing.assert_array_equal(va["sample_index"], vb["sample_index"])
    np.testing.assert_array_equal(va["unit_index"], vb["unit_index"])


def test_pursuit_recovers_a_noiseless_sum_of_templates_exactly():
    # brute-force truth: the traces are built from known onsets/amplitudes of two spatio-temporal atoms
    rng = np.random.default_rng(0)
    L, C, T = 20, 3, 2000
    W = rng.standard_normal((2, L, C)) * 3
    onsets = np.array([100, 105, 400, 900, 1500])   # 100/105 overlap
    units = np.array([0, 1, 1, 0, 1])
    amps = np.array([1.0, 1.2, 0.8, 1.5, 1.0])
    x = np.zeros((T, C))
    for s, u, a in zip(onsets, units, amps):
        x[s:s + L] += a * W[u]
    s, u, a = template_pursuit(x, W, match_threshold=1.0, amplitude_range=(0.5, 2.0))
    np.testing.assert_array_equal(s, onsets)
    np.testing.assert_array_equal(u, units)
    np.testing.assert_allclose(a[2:], amps[2:], rtol=1e-6)   # isolated spikes: exact amplitudes
    np.testing.assert_allclose(a[:2], amps[:2], atol=0.1)    # the overlapping pair: greedy amplitudes, not joint LS


def test_nan_segment_is_a_clear_error(gt4):
    rec, _ = gt4
    x = rec.get_traces(start_frame=0, end_frame=50000).copy()
    x[30000:30100, 1] = np.nan
    bad = NumpyRecording([x], sampling_frequency=rec.get_sampling_frequency())
    with pytest.raises(ValueError, match="NaN"):
        sort(bad, preprocess=False, n_units=2)


def test_dead_channel_is_ignored_and_reported(gt4):
    rec, _ = gt4
    x = rec.get_traces(start_frame=0, end_frame=100000).copy()
    x[:, 2] = 0.0
    dead = NumpyRecording([x], sampling_frequency=rec.get_sampling_frequency())
    out = dead.set_probe(rec.get_probe())
    dead = dead if out is None else out
    with pytest.warns(RuntimeWarning, match="dead"):
        res = sort(dead, preprocess=False, n_units=3, random_state=0)
    assert list(res.dead_channels) == [dead.channel_ids[2]]
    assert np.all(res.templates[:, :, 2] == 0)


def test_mismatched_sampling_frequency_names_the_argument(gt4):
    rec, _ = gt4
    with pytest.raises(ValueError, match="sampling_frequency"):
        sort(rec, sampling_frequency=30000.0)


def test_pure_noise_reports_an_empty_result():
    x = np.random.default_rng(0).standard_normal((40000, 4)).astype(np.float32)
    res = sort(x, sampling_frequency=25000.0, preprocess=False, detect_threshold=8.0)
    assert len(res.sorting.unit_ids) == 0 and res.templates.shape[0] == 0 and res.message


def test_bad_arguments_name_themselves():
    x = np.random.default_rng(0).standard_normal((1000, 2))
    with pytest.raises(ValueError, match="sampling_frequency"):
        sort(x)
    with pytest.raises((TypeError, ValueError), match="n_units"):
        sort(x, sampling_frequency=1e4, n_units=0)
    with pytest.raises(ValueError, match="amplitude_range"):
        template_pursuit(x, np.ones((1, 5, 2)), amplitude_range=(2.0, 1.0))
