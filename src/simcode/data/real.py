"""Small real data that ships offline: scikit-learn's digits, scikit-image's photographs, two moons."""

from __future__ import annotations

import numpy as np

from ..core.arrays import check_array, check_bool, check_int, check_number, check_random_state

__all__ = ["load_digits_subset", "load_image_patches", "make_moons", "whiten_image"]

# Grayscale photographs bundled inside scikit-image's wheel (no download needed).
_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "brick", "grass", "gravel", "moon", "coins", "rocket")


def load_digits_subset(classes=(0, 3, 4, 6, 7), normalize=True):
    """scikit-learn's bundled 8×8 digits restricted to ``classes`` (002 §6.2 uses MNIST {0,3,4,6,7}).

    Returns ``X`` (n × 64; scaled to [0, 1] when ``normalize``) and labels ``y``.
    """
    from sklearn.datasets import load_digits

    normalize = check_bool(normalize, "normalize")
    classes = tuple(check_int(c, "classes", low=0, high=9) for c in np.atleast_1d(classes))
    if not classes:
        raise ValueError(f"classes must be a non-empty subset of 0..9, got {classes!r}")
    d = load_digits()
    mask = np.isin(d.target, classes)
    X = d.data[mask].astype(np.float64)
    if normalize:
        X /= 16.0
    return X, d.target[mask]


def whiten_image(img, f0=0.4):
    """Olshausen & Field (1997) whitening: multiply the spectrum by ``|f| exp(-(|f|/f0)^4)`` with ``f0`` in
    cycles/pixel (0.4 ≈ their 200 cycles/picture on 512² images): flattens the 1/f amplitude spectrum
    and rolls off the noisy corners."""
    img = check_array(img, "img", ndim=2, what="height × width")
    f0 = check_number(f0, "f0", low=0.0, low_inclusive=False)
    h, w = img.shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    filt = f * np.exp(-((f / f0) ** 4))
    return np.real(np.fft.ifft2(np.fft.fft2(img - img.mean()) * filt))


def _gray_images():
    import skimage.data as sd
    from skimage.color import rgb2gray

    out = []
    for name in _IMAGES:
        try:
            im = getattr(sd, name)()
        except Exception:  # an image that needs a download is skipped
            continue
        im = np.asarray(im, dtype=np.float64)
        if im.ndim == 3:
            im = rgb2gray(im[..., :3])
        out.append(im / (im.max() or 1.0))
    if not out:
        raise RuntimeError("no bundled scikit-image photograph could be loaded")
    return out


def load_image_patches(patch_size=16, n_patches=10000, whiten=True, random_state=None):
    """Random ``patch_size``² patches from scikit-image's bundled photographs.

    With ``whiten`` each image is whitened first (:func:`whiten_image`). Each patch has its mean
    removed and the set is scaled to unit variance. Returns an array ``(n_patches, patch_size**2)``.
    """
    patch_size = check_int(patch_size, "patch_size", low=2, high=64)
    n_patches = check_int(n_patches, "n_patches", low=1)
    whiten = check_bool(whiten, "whiten")
    rng = check_random_state(random_state)
    imgs = [whiten_image(im) if whiten else im for im in _gray_images()]
    which = rng.integers(len(imgs), size=n_patches)
    P = np.empty((n_patches, patch_size * patch_size))
    for i, k in enumerate(which):
        im = imgs[k]
        r = rng.integers(im.shape[0] - patch_size + 1)
        c = rng.integers(im.shape[1] - patch_size + 1)
        P[i] = im[r:r + patch_size, c:c + patch_size].ravel()
    P -= P.mean(axis=1, keepdims=True)
    P /= P.std() or 1.0
    return P


def make_moons(n_samples=2500, noise=0.01, random_state=None):
    """scikit-learn's two moons (002 §6.3: 2500 points, noise 0.01)."""
    from sklearn.datasets import make_moons as _mm

    n_samples = check_int(n_samples, "n_samples", low=2)
    noise = check_number(noise, "noise", low=0.0)
    seed = check_random_state(random_state).integers(2**31 - 1)
    return _mm(n_samples=int(n_samples), noise=float(noise), random_state=int(seed))
