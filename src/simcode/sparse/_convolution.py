r"""The convolution operators H and Hᵀ, their norm bound, and the signal layouts, shared by ``conv`` (CSC, CDL)
and ``unrolled`` (CRsAE).

Layouts (torch tensors, batch first, like ``torch.nn.functional.conv1d``):

* signals ``(N, C, T)`` (1-D) or ``(N, C, H, W)`` (2-D);
* atoms ``(K, C, L)`` or ``(K, C, h, w)``;
* codes ``(N, K, T - L + 1)`` or ``(N, K, H - h + 1, W - w + 1)`` ("valid" codes: every code sample
  places a whole filter inside the signal).

The synthesis operator is the lecture's ``y = H x = sum_k h_k * x_k`` (paper 004, "Convolutional
generative model", channel index c there = atom index k here), a true (flipped) convolution, computed as
``conv_transpose``; its adjoint ``H^T y`` is the cross-correlation ``conv1d(y, atoms)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CONVOLUTIONS = ("auto", "direct", "fft")

def fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (sizes pocketfft and cuFFT handle fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < 2 * n:
        p35 = p5
        while p35 < 2 * n:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


class ConvOperator:
    """``H`` (synthesis) and ``H^T`` (adjoint) for a fixed filter bank, direct or by FFT.

    ``convolution``: ``"direct"`` (``conv_transpose``/``conv``), ``"fft"`` (zero-padded real FFTs, filter
    spectra cached) or ``"auto"`` (direct on CUDA for filters up to 32 samples / 11x11 pixels, FFT
    otherwise: on CPU the FFT path is faster even for 18-sample filters, see BENCHMARKS.md).
    """

    def __init__(self, atoms: torch.Tensor, signal_shape: tuple[int, ...], convolution: str = "auto"):
        self.atoms = atoms
        self.sdim = atoms.ndim - 2
        self.fsize = tuple(atoms.shape[2:])
        self.signal_shape = tuple(signal_shape)
        self.code_shape = tuple(s - f + 1 for s, f in zip(self.signal_shape, self.fsize))
        method = convolution
        if method == "auto":
            small = (self.fsize[0] <= 32) if self.sdim == 1 else (max(self.fsize) <= 11)
            method = "direct" if (atoms.is_cuda and small) else "fft"
        if method not in ("direct", "fft"):
            raise ValueError(f"convolution must be 'auto', 'direct' or 'fft', got {convolution!r}")
        self.method = method
        if method == "fft":
            self.nfft = tuple(fast_len(s) for s in self.signal_shape)
            dims = tuple(range(-self.sdim, 0))
            self.Hf = torch.fft.rfftn(atoms, s=self.nfft, dim=dims)  # (K, C, *F)

    # -- helpers
    def _rfft(self, x):
        return torch.fft.rfftn(x, s=self.nfft, dim=tuple(range(-self.sdim, 0)))

    def _irfft(self, X, out_shape):
        y = torch.fft.irfftn(X, s=self.nfft, dim=tuple(range(-self.sdim, 0)))
        if self.sdim == 1:
            return y[..., : out_shape[0]]
        return y[..., : out_shape[0], : out_shape[1]]

    def synth(self, codes: torch.Tensor) -> torch.Tensor:
        """``H x``: (N, K, *code) -> (N, C, *signal)."""
        if self.method == "direct":
            f = F.conv_transpose1d if self.sdim == 1 else F.conv_transpose2d
            return f(codes, self.atoms)
        Xf = self._rfft(codes)
        Yf = torch.einsum("nk...,kc...->nc...", Xf, self.Hf)
        return self._irfft(Yf, self.signal_shape)

    def adjoint(self, signal: torch.Tensor) -> torch.Tensor:
        """``H^T y``: (N, C, *signal) -> (N, K, *code)."""
        if self.method == "direct":
            f = F.conv1d if self.sdim == 1 else F.conv2d
            return f(signal, self.atoms)
        Yf = self._rfft(signal)
        Xf = torch.einsum("nc...,kc...->nk...", Yf, self.Hf.conj())
        return self._irfft(Xf, self.code_shape)


def lipschitz(atoms: torch.Tensor) -> torch.Tensor:
    r"""An upper bound on :math:`\|H\|_2^2` valid for every signal length (a 0-d tensor, no host sync).

    :math:`\|H\|^2 \le \sup_\omega \lambda_{\max}(\hat H(\omega)^* \hat H(\omega))` where
    :math:`\hat H(\omega)` is the C×K matrix of filter spectra. The symbol is sampled on a grid ``M`` ≥ 64× (1-D) or
    32× (2-D) the filter length per dimension; since :math:`u^*\hat H^*\hat H u` is a trigonometric polynomial of degree
    ``L-1``, Bernstein's inequality bounds the sampling error and the grid maximum is divided by
    :math:`1 - \pi \sum_i (L_i - 1)/M_i` to give a guaranteed bound.
    """
    sdim = atoms.ndim - 2
    fsize = atoms.shape[2:]
    grid = tuple(fast_len(max(64 if sdim == 2 else 256, (64 if sdim == 1 else 32) * f)) for f in fsize)
    # the symbol is Hermitian (real filters): half the spectrum has the same maximum
    Hf = torch.fft.rfftn(atoms, s=grid, dim=tuple(range(-sdim, 0)))  # (K, C, *grid'), complex
    K, C = atoms.shape[:2]
    if C == 1:
        lam = (Hf.real ** 2 + Hf.imag ** 2).sum(0).amax()
    else:
        Hm = Hf.reshape(K, C, -1).permute(2, 1, 0)  # (G, C, K)
        if C <= K:
            G = Hm @ Hm.conj().transpose(1, 2)
        else:
            G = Hm.conj().transpose(1, 2) @ Hm
        lam = torch.linalg.eigvalsh(G).amax()
    slack = 1.0 - math.pi * sum((f - 1) / g for f, g in zip(fsize, grid))
    return lam / slack


def to_batched(x: torch.Tensor, sdim: int, n_channels: int, name: str) -> tuple[torch.Tensor, bool]:
    """Signals to ``(N, C, *spatial)``; returns ``(tensor, was_batched)``.

    1-D: ``(T,)`` one single-channel signal; ``(N, T)`` N signals when C = 1, else one ``(C, T)`` signal;
    ``(N, C, T)``. 2-D: ``(H, W)``; ``(N, H, W)`` when C = 1, else one ``(C, H, W)`` image; ``(N, C, H, W)``.
    """
    nd = x.ndim
    if nd == sdim:
        if n_channels != 1:
            raise ValueError(f"{name} of shape {tuple(x.shape)} has no channel axis but the atoms (filters) "
                             f"have {n_channels} channels")
        return x.reshape((1, 1) + tuple(x.shape)), False
    if nd == sdim + 1:
        if n_channels == 1:
            return x.unsqueeze(1), True
        if x.shape[0] != n_channels:
            raise ValueError(f"{name} of shape {tuple(x.shape)}: expected {n_channels} channels on axis 0 "
                             f"(or a batch of shape (N, {n_channels}, ...)), as the atoms have; mismatched channels")
        return x.unsqueeze(0), False
    if nd == sdim + 2:
        if x.shape[1] != n_channels:
            raise ValueError(f"{name} has {x.shape[1]} channels (axis 1 of shape {tuple(x.shape)}) but the "
                             f"atoms (filters) have {n_channels}; mismatched channels")
        return x, True
    raise ValueError(f"{name} must have {sdim}, {sdim + 1} or {sdim + 2} dimensions for {sdim}-D filters, "
                     f"got shape {tuple(x.shape)}")


def check_lengths(signal_shape, fsize, name: str) -> None:
    """The filters must fit inside the signals (ValueError naming ``n_features`` for 1-D signals)."""
    for s, f in zip(signal_shape, fsize):
        if s < f:
            size = f"n_features={signal_shape[0]}" if len(signal_shape) == 1 else f"size {tuple(signal_shape)}"
            raise ValueError(f"{name} is shorter than the filters: signal {size} vs filter size {tuple(fsize)} "
                             "(the filters must fit inside the signal: lower atom_length or pass longer signals)")
