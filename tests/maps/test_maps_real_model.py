"""Maps of a real (tiny) initial-condition model from gcs_hpc.galaxy: rotation shows where it should."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.maps import make_model_maps, viewing_angles
from gcs_hpc.specs import PRESETS, GalaxySpec, MapSpec, ModelSpec

galaxy = pytest.importorskip("gcs_hpc.galaxy")


def _right_minus_left(maps: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Count-weighted mean V on the right half (x > 0) minus the left half, per angle."""
    npix = counts.shape[-1]
    right = np.zeros(npix, bool)
    right[npix // 2:] = True
    w = counts.astype(float)
    v = maps[:, 1]
    mean_r = (w[..., right] * v[..., right]).sum(axis=(1, 2)) / w[..., right].sum(axis=(1, 2))
    mean_l = (w[..., ~right] * v[..., ~right]).sum(axis=(1, 2)) / w[..., ~right].sum(axis=(1, 2))
    return mean_r - mean_l


@pytest.fixture(scope="module")
def rotating_and_static():
    out = {}
    for f_rot in (0.6, 0.0):
        spec = ModelSpec("disk", GalaxySpec(f_rot=f_rot), PRESETS["tiny"], seed=3)
        particles = galaxy.build_model(spec)
        size = galaxy.disk_size_kpc(spec.galaxy)
        out[f_rot] = (particles, make_model_maps(particles, MapSpec(fov=2.4, smoothing=0.24), size))
    return out


def test_rotating_gcs_show_v_gradient_edge_on_and_not_face_on(rotating_and_static):
    particles, (maps, counts) = rotating_and_static[0.6]
    theta, _ = viewing_angles(100)
    sin_t = np.sin(np.radians(theta))
    gcs = particles.gcs
    spin = np.sign(np.sum(np.cross(particles.pos[gcs], particles.vel[gcs])[:, 2]))
    d = spin * _right_minus_left(maps, counts)
    # v_los = Omega sin(theta) x_image for rotation about z: the right-left difference follows sin(theta)
    # with the sign of the GCS's spin.
    assert np.corrcoef(d, sin_t)[0, 1] > 0.7
    assert np.mean(d[sin_t > 0.9]) > 40.0  # km/s
    assert abs(np.mean(d[sin_t < 0.3])) < 0.5 * np.mean(d[sin_t > 0.9])
    # Dispersions are those of a Milky-Way-mass halo's tracers: tens to a few hundred km/s.
    populated = counts > 0
    sigma = maps[:, 0][populated]
    assert 30.0 < np.median(sigma) < 300.0


def test_non_rotating_gcs_show_no_systematic_gradient(rotating_and_static):
    _, (maps, counts) = rotating_and_static[0.0]
    _, (maps_rot, counts_rot) = rotating_and_static[0.6]
    d_static = _right_minus_left(maps, counts)
    d_rot = _right_minus_left(maps_rot, counts_rot)
    theta, _ = viewing_angles(100)
    edge_on = np.sin(np.radians(theta)) > 0.9
    assert abs(np.mean(d_static[edge_on])) < 0.3 * abs(np.mean(d_rot[edge_on]))
