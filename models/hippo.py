"""HiPPO-LegS, the diagonal state matrices derived from it, and their discretisation.

HiPPO-LegS (Gu et al. 2020) keeps the coefficients `x(t)` of the projection of a signal's
whole history onto scaled Legendre polynomials: `x'(t) = (A x(t) + B f(t)) / t` with

    A[n, k] = -sqrt(2n+1) sqrt(2k+1)  (n > k),   -(n+1)  (n = k),   0  (n < k)
    B[n]    = sqrt(2n+1)

S4D (Gu et al. 2022) keeps only a diagonal A. S4D-LegS takes it from the normal part of
LegS's normal-plus-low-rank form, whose eigenvalues are `-1/2 + i*omega`; S4D-Lin and
S4D-Inv are closed-form approximations of the same imaginary parts. A real system's
modes come in conjugate pairs, so a state of size N is kept as N/2 complex modes.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch

Init = Literal["legs", "lin", "inv"]
Method = Literal["zoh", "bilinear"]
INITS: tuple[str, ...] = get_args(Init)
METHODS: tuple[str, ...] = get_args(Method)


def legs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The HiPPO-LegS transition pair (A [n, n], B [n]) in float64."""
    scale = torch.sqrt(2 * torch.arange(n, dtype=torch.float64) + 1)
    below = torch.tril(torch.outer(scale, scale), diagonal=-1)
    a = -below - torch.diag(torch.arange(1, n + 1, dtype=torch.float64))
    return a, scale


def legs_nplr(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """LegS as normal plus low rank, `A = S - P P^T`: returns (S, P).

    With `P[n] = sqrt(n + 1/2)`, `S = -I/2 + K` where K is skew-symmetric, so S is normal.
    """
    a, _ = legs(n)
    p = torch.sqrt(torch.arange(n, dtype=torch.float64) + 0.5)
    return a + torch.outer(p, p), p


def diagonal_init(kind: Init, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Diagonal (A, B) for a state of size `n`, as n/2 complex modes (complex128).

    legs: the eigenvalues of LegS's normal part, with B in its eigenbasis (V^* B);
    lin:  A = -1/2 + i pi k;   inv: A = -1/2 + i (n/pi) (n/(2k+1) - 1);  both with B = 1.
    """
    if n < 2 or n % 2:
        raise ValueError(f"state size must be even and at least 2, got {n}")
    k = torch.arange(n // 2, dtype=torch.float64)
    if kind == "legs":
        normal, _ = legs_nplr(n)
        skew = normal + 0.5 * torch.eye(n, dtype=torch.float64)
        # -iK is Hermitian, so eigh gives an orthonormal eigenbasis; a general eig would
        # lose orthogonality as n grows. Its eigenvalues come in +/- pairs: keep the +.
        omega, basis = torch.linalg.eigh(-1j * skew.to(torch.complex128))
        keep = omega > 0
        a = torch.complex(torch.full_like(omega[keep], -0.5), omega[keep])
        b = basis[:, keep].conj().T @ legs(n)[1].to(torch.complex128)
        return a, b
    if kind == "lin":
        imag = math.pi * k
    elif kind == "inv":
        imag = n / math.pi * (n / (2 * k + 1) - 1)
    else:
        raise ValueError(f"unknown diagonal init {kind!r}; choose from {', '.join(INITS)}")
    a = torch.complex(torch.full_like(k, -0.5), imag)
    return a, torch.ones_like(a)


def discretize(
    a: torch.Tensor, b: torch.Tensor, dt: torch.Tensor, method: Method
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discrete (dA, dB) of a diagonal system, elementwise over broadcastable tensors.

    zoh:      dA = exp(dt A),                   dB = (exp(dt A) - 1) / A * B
    bilinear: dA = (1 + dt A/2) / (1 - dt A/2),  dB = dt B / (1 - dt A/2)
    """
    dta = dt * a
    if method == "zoh":
        da = _complex_exp(dta)
        return da, (da - 1) / a * b
    if method == "bilinear":
        denominator = 1 - dta / 2
        return (1 + dta / 2) / denominator, dt * b / denominator
    raise ValueError(f"unknown discretisation {method!r}; choose from {', '.join(METHODS)}")


def _complex_exp(x: torch.Tensor) -> torch.Tensor:
    """exp of a complex tensor through the real exp and polar form: the same values,
    several times faster than `torch.exp` on complex CPU tensors."""
    return torch.polar(x.real.exp(), x.imag)


def discretize_dense(
    a: torch.Tensor, b: torch.Tensor, dt: float, method: Method
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discrete (dA, dB) of a dense system A [n, n], B [n], by the same two rules."""
    eye = torch.eye(a.shape[0], dtype=a.dtype)
    if method == "zoh":
        da = torch.linalg.matrix_exp(dt * a)
        return da, torch.linalg.solve(a, (da - eye) @ b)
    if method == "bilinear":
        denominator = eye - dt / 2 * a
        return (
            torch.linalg.solve(denominator, eye + dt / 2 * a),
            torch.linalg.solve(denominator, dt * b),
        )
    raise ValueError(f"unknown discretisation {method!r}; choose from {', '.join(METHODS)}")
