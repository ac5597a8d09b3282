"""Boundary cases of ``simcode.data`` (generators: sizes and probabilities are scalars, declared in ``scalars``;
independent checks: shapes, closed forms, NumPy)."""

import numpy as np

from .harness import Case


def _whiten_ref(img, f0=0.4):
    h, w = img.shape
    f = np.hypot(np.fft.fftfreq(w)[None, :], np.fft.fftfreq(h)[:, None])
    return np.real(np.fft.ifft2(np.fft.fft2(img - img.mean()) * f * np.exp(-((f / f0) ** 4))))


def _sparse_check(out, kw):
    X, D, codes = out
    k = max(1, round(kw["sparsity"] * kw["n_components"]))
    return (X.shape == (kw["n_samples"], kw["n_features"]) and np.allclose(np.linalg.norm(D, axis=1), 1)
            and np.all((codes != 0).sum(1) == k) and np.allclose(X, codes @ D))


def _place_check(out, kw):
    Z, pos, cen = out
    d = np.abs(pos[:, None] - cen[None, :])
    d = np.minimum(d, 1 - d)
    return np.allclose(Z, np.maximum(0, 1 - (d / kw["width"]) ** 2))


def _onoff_check(out, kw):
    v, p = out
    return v.shape == p.shape == (kw["n_points"],) and v[0] == 0 and np.isclose(p.sum(), 1) and p[0] == kw["p_zero"]


CASES = [
    Case("simcode.data.make_sparse_dictionary_data",
         lambda rng: dict(n_samples=40, n_features=6, n_components=8, sparsity=0.25, noise=0.0, random_state=0),
         scalars={"n_samples": "int", "n_features": "int", "n_components": "int", "sparsity": "positive",
                  "noise": "nonnegative"},
         check=_sparse_check),
    Case("simcode.data.load_digits_subset", lambda rng: dict(classes=(0, 1)),
         check=lambda out, kw: out[0].shape[1] == 64 and set(np.unique(out[1])) == {0, 1} and out[0].max() <= 1),
    Case("simcode.data.load_image_patches",
         lambda rng: dict(patch_size=4, n_patches=20, whiten=False, random_state=0),
         scalars={"patch_size": "int", "n_patches": "int"},
         check=lambda out, kw: out.shape == (20, 16) and np.allclose(out.mean(1), 0) and np.isclose(out.std(), 1)),
    Case("simcode.data.make_moons", lambda rng: dict(n_samples=50, noise=0.01, random_state=0),
         scalars={"n_samples": "int", "noise": "nonnegative"},
         check=lambda out, kw: out[0].shape == (50, 2) and set(np.unique(out[1])) == {0, 1}),
    Case("simcode.data.whiten_image", lambda rng: dict(img=rng.random((12, 10)), f0=0.4), arrays=("img",),
         scalars={"f0": "positive"},
         check=lambda out, kw: np.allclose(out, _whiten_ref(kw["img"], kw["f0"]))),
    Case("simcode.data.onoff_stimulus", lambda rng: dict(law="exponential", p_zero=0.3, n_points=20),
         scalars={"p_zero": "nonnegative", "n_points": "int"}, check=_onoff_check),
    Case("simcode.data.make_place_cells", lambda rng: dict(n_cells=5, n_positions=30, width=0.1),
         scalars={"n_cells": "int", "n_positions": "int", "width": "positive"}, check=_place_check),
    Case("simcode.data.make_grid_cells",
         lambda rng: dict(periods=np.array([0.5, 0.25]), phases_per_module=3, n_positions=40),
         arrays=("periods",), scalars={"phases_per_module": "int", "n_positions": "int"},
         check=lambda out, kw: out[0].shape == (40, 6) and out[0].min() >= 0 and np.isclose(out[0].max(), 1)),
    Case("simcode.data.make_spike_recording",
         lambda rng: dict(duration_s=0.2, fs=5000.0, n_neurons=2, firing_rate_hz=20.0, noise_std=0.1,
                          random_state=0),
         scalars={"duration_s": "positive", "fs": "positive", "n_neurons": "int", "firing_rate_hz": "positive",
                  "noise_std": "nonnegative"}),
    Case("simcode.data.biphasic_template", lambda rng: dict(n_samples=20), scalars={"n_samples": "int"},
         check=lambda out, kw: out.shape == (20,) and np.isfinite(out).all()),
]

UNCOVERED = {}

VALID = {}
