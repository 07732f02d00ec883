"""Geometry of a projected tracer sample for the classic estimators: the rotation fit, the projected
density slope and the (blocked) inverse pair-separation sum. NumPy/SciPy only."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from gcs_hpc.config import check_range
from gcs_hpc.errors import CatalogError

__all__ = ["PAIR_BLOCK_BYTES", "fit_projected_slope", "fit_rotation", "projected_pair_sum"]


def fit_rotation(x: np.ndarray, y: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """Least-squares fit of ``v = v_rot cos(phi - phi_kin)`` over the tracers' position angles phi.

    Returns
    -------
    (v_rot, phi_kin_deg)
        Amplitude (km/s, >= 0) and kinematic axis angle (degrees, counter-clockwise from +x).
    """
    phi = np.arctan2(y, x)
    design = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, v, rcond=None)
    return float(math.hypot(a, b)), float(math.degrees(math.atan2(b, a)))


def fit_projected_slope(R: np.ndarray, R_in: float | None = None, R_out: float | None = None) -> float:
    """Maximum-likelihood slope Gamma of a power-law surface density Sigma ~ R^-Gamma between
    ``R_in`` and ``R_out`` (default: the sample's extremes); Gamma in [0.05, 6]."""
    R = np.asarray(R, dtype=np.float64)
    R_in = float(np.min(R)) if R_in is None else R_in
    R_out = float(np.max(R)) if R_out is None else R_out
    R_in = max(R_in, 1.0e-3 * R_out)
    if not R_out > R_in:
        raise CatalogError(f"the tracers' projected radii span [{R_in:g}, {R_out:g}] kpc; fitting the "
                           "density slope needs R_out > R_in > 0 (tracers spread in radius)")
    R = np.clip(R, R_in, R_out)
    log_r, l_in, l_out = np.log(R), math.log(R_in), math.log(R_out)
    n = len(R)

    def nll(gamma_proj: float) -> float:
        s = 2.0 - gamma_proj  # p(R) ~ R^(s-1) on [R_in, R_out]
        if abs(s) < 1.0e-8:
            norm = l_out - l_in
        else:
            norm = (math.exp(s * l_out) - math.exp(s * l_in)) / s
        return -((s - 1.0) * float(np.sum(log_r)) - n * math.log(norm))

    return float(minimize_scalar(nll, bounds=(0.05, 6.0), method="bounded").x)


#: Memory budget of one block of the pair sum, bytes (all its float64 temporaries together). Blocks
#: that stay in the CPU cache are measured ~4x faster than 64 MB blocks (N = 10^4 GCs: 0.5 s vs 2.2 s).
PAIR_BLOCK_BYTES = 4 * 2**20

#: float64 arrays of one block's shape alive at once in :func:`projected_pair_sum` (dx, dy, 1/R).
_PAIR_BLOCK_ARRAYS = 3


def projected_pair_sum(x: np.ndarray, y: np.ndarray, block_bytes: int = PAIR_BLOCK_BYTES) -> float:
    """sum_{i<j} 1 / R_ij over tracer pairs at distinct positions.

    Duplicated positions (bootstrap copies of one tracer) are not pairs: the sum runs over the valid
    pairs and is rescaled to all N (N - 1) / 2 pairs, so the mean inverse separation is kept.

    The pairs are summed in blocks of rows of the (distinct positions)^2 matrix, each block at most
    ``block_bytes`` of temporaries (at least one row), so memory is O(N) beyond that budget while the
    cost stays O(N^2).
    """
    check_range("virial", "block_bytes", block_bytes, 1, 2**40)
    pts, counts = np.unique(np.stack([x, y], axis=1), axis=0, return_counts=True)
    n = int(counts.sum())
    m = len(pts)
    c = counts.astype(np.float64)
    px, py = pts[:, 0], pts[:, 1]
    rows = max(1, int(block_bytes) // (_PAIR_BLOCK_ARRAYS * 8 * m))
    valid_sum = 0.0
    for start in range(0, m, rows):
        stop = min(start + rows, m)
        dx = px[start:stop, None] - px[None, :]
        dy = py[start:stop, None] - py[None, :]
        np.multiply(dx, dx, out=dx)
        np.multiply(dy, dy, out=dy)
        np.add(dx, dy, out=dx)
        np.sqrt(dx, out=dx)
        block = np.arange(stop - start)
        dx[block, start + block] = np.inf           # a distinct position is no pair with itself
        np.divide(1.0, dx, out=dy)
        valid_sum += float(np.dot(c[start:stop], np.dot(dy, c)))
    valid_sum *= 0.5
    n_valid = 0.5 * (n * n - float(np.sum(c * c)))
    if n_valid <= 0:
        raise CatalogError("all tracers share one position; the virial estimator needs distinct positions")
    return valid_sum / n_valid * 0.5 * n * (n - 1)
