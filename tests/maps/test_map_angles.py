"""Viewing directions: uniform, deterministic, right-handed sky frames."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.maps import view_basis, viewing_angles


def _unit_vectors(n: int) -> np.ndarray:
    return view_basis(*viewing_angles(n))[2]


def test_viewing_angles_are_deterministic_and_in_range():
    theta, phi = viewing_angles(100)
    theta2, phi2 = viewing_angles(100)
    assert theta.shape == phi.shape == (100,)
    np.testing.assert_array_equal(theta, theta2)
    np.testing.assert_array_equal(phi, phi2)
    assert np.all((theta >= 0) & (theta <= 180))
    assert np.all((phi >= 0) & (phi < 360))


@pytest.mark.parametrize("n", [50, 100, 400])
def test_fibonacci_directions_are_uniform(n):
    u = _unit_vectors(n)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, rtol=1e-12)
    # The mean of uniform unit vectors vanishes; random points would give ~1/sqrt(3n) ~ 0.03-0.08.
    assert np.linalg.norm(u.mean(axis=0)) < 0.02
    # Equal-area bands: each hemisphere, and each octant, holds its share of points.
    assert abs(np.sum(u[:, 2] > 0) - n / 2) <= 1
    for sx in (1, -1):
        for sy in (1, -1):
            share = np.sum((sx * u[:, 0] > 0) & (sy * u[:, 1] > 0)) / n
            assert abs(share - 0.25) < 0.05
    # Nearest-neighbour spacing is nearly constant: ~ sqrt(4 pi / n) rad, none clumped.
    cos = np.clip(u @ u.T, -1, 1)
    np.fill_diagonal(cos, -1)
    nn = np.arccos(cos.max(axis=1))
    expected = np.sqrt(4 * np.pi / n)
    assert 0.6 * expected < nn.min()
    assert nn.max() < 1.3 * expected
    assert nn.std() / nn.mean() < 0.15


def test_sky_frame_is_orthonormal_and_right_handed():
    e_x, e_y, n = view_basis(*viewing_angles(37))
    for a in (e_x, e_y, n):
        np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.sum(e_x * e_y, axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sum(e_x * n, axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.cross(e_x, e_y), n, atol=1e-12)


def test_edge_on_view_puts_the_disk_plane_along_x():
    e_x, e_y, n = view_basis(np.array([90.0]), np.array([0.0]))
    np.testing.assert_allclose(n[0], [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(e_x[0], [0, 1, 0], atol=1e-15)
    np.testing.assert_allclose(e_y[0], [0, 0, 1], atol=1e-15)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "100"])
def test_invalid_number_of_angles_is_refused(bad):
    with pytest.raises(ValueError, match="allowed: an integer >= 1"):
        viewing_angles(bad)
