"""HiPPO-LegS: the matrix, its diagonal forms, discretisation, and online reconstruction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import eval_legendre

from models import hippo


def legs_by_entries(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gu et al. 2020, written out entry by entry."""
    a = np.zeros((n, n))
    for row in range(n):
        for col in range(n):
            if row > col:
                a[row, col] = -math.sqrt(2 * row + 1) * math.sqrt(2 * col + 1)
            elif row == col:
                a[row, col] = -(row + 1)
    return a, np.array([math.sqrt(2 * row + 1) for row in range(n)])


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_legs_matches_an_entrywise_construction(n):
    a, b = hippo.legs(n)
    a_ref, b_ref = legs_by_entries(n)
    np.testing.assert_allclose(a.numpy(), a_ref, rtol=1e-14, atol=0)
    np.testing.assert_allclose(b.numpy(), b_ref, rtol=1e-14, atol=0)


def test_nplr_form_is_normal_with_real_part_minus_half():
    a, _ = hippo.legs(16)
    normal, p = hippo.legs_nplr(16)
    torch.testing.assert_close(normal - torch.outer(p, p), a)
    torch.testing.assert_close(normal @ normal.T, normal.T @ normal)
    torch.testing.assert_close((normal + normal.T) / 2, -0.5 * torch.eye(16, dtype=torch.float64))


def test_s4d_legs_is_the_spectrum_of_the_normal_part():
    n = 32
    a, b = hippo.diagonal_init("legs", n)
    normal, _ = hippo.legs_nplr(n)
    eigenvalues = np.linalg.eigvals(normal.numpy())
    upper = np.sort(eigenvalues[eigenvalues.imag > 0].imag)
    assert a.shape == b.shape == (n // 2,)
    np.testing.assert_allclose(a.real.numpy(), -0.5, atol=1e-10)
    np.testing.assert_allclose(np.sort(a.imag.numpy()), upper, rtol=1e-8)
    # B in the eigenbasis keeps the energy of the upper half of the spectrum:
    # |V^* B|^2 over both halves sums to |B|^2 = n^2, split evenly between conjugates
    np.testing.assert_allclose((b.abs() ** 2).sum().item(), n**2 / 2, rtol=1e-8)


def test_s4d_lin_and_inv_closed_forms():
    a, b = hippo.diagonal_init("lin", 8)
    torch.testing.assert_close(a.imag, math.pi * torch.arange(4, dtype=torch.float64))
    a, _ = hippo.diagonal_init("inv", 8)
    k = torch.arange(4, dtype=torch.float64)
    torch.testing.assert_close(a.imag, 8 / math.pi * (8 / (2 * k + 1) - 1))
    torch.testing.assert_close(b, torch.ones(4, dtype=torch.complex128))
    with pytest.raises(ValueError, match="even"):
        hippo.diagonal_init("legs", 7)


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_diagonal_discretisation_agrees_with_the_dense_rule(method):
    a, b = hippo.diagonal_init("legs", 8)
    da, db = hippo.discretize(a, b, torch.tensor(0.05, dtype=torch.float64), method)
    dense_a, dense_b = hippo.discretize_dense(torch.diag(a), b, 0.05, method)
    torch.testing.assert_close(torch.diag(dense_a), da)
    torch.testing.assert_close(dense_b, db)


def test_zoh_is_exact_for_held_inputs_and_bilinear_close():
    """x' = a x + b u with u held at 1 from x(0) = 0 has x(t) = b (e^{at} - 1) / a."""
    a = torch.tensor([-0.5 + 3j, -2.0 + 0.5j], dtype=torch.complex128)
    b = torch.ones(2, dtype=torch.complex128)
    exact = b * (torch.exp(a * 1.0) - 1) / a
    for method, tolerance in [("zoh", 1e-12), ("bilinear", 1e-3)]:
        da, db = hippo.discretize(a, b, torch.tensor(0.01, dtype=torch.float64), method)
        x = torch.zeros(2, dtype=torch.complex128)
        for _ in range(100):
            x = da * x + db
        assert (x - exact).abs().max() < tolerance, method


@pytest.mark.parametrize("method", ["bilinear", "zoh"])
def test_online_legs_projection_reconstructs_the_history(method):
    """Run the LegS ODE x' = (A x + B f) / t over a smooth signal, then rebuild the whole
    history from the final coefficients with scaled Legendre polynomials (HiPPO, fig. 1)."""
    n, steps = 64, 400
    t = np.linspace(0.0, 1.0, steps)
    signal = np.sin(6 * t) + 0.5 * np.cos(15 * t**2) + t
    a, b = hippo.legs(n)
    x = torch.zeros(n, dtype=torch.float64)
    for k in range(1, steps + 1):
        da, db = hippo.discretize_dense(a / k, b / k, 1.0, method)
        x = da @ x + db * signal[k - 1]
    basis = np.stack([math.sqrt(2 * i + 1) * eval_legendre(i, 2 * t - 1) for i in range(n)])
    rebuilt = x.numpy() @ basis
    error = np.abs(rebuilt - signal)
    assert np.sqrt(np.mean(error**2)) < 0.05
    # the first few samples are compressed hardest; beyond them it is tight
    assert error[steps // 20 :].max() < 0.02
