"""make_model_maps on hand-made particle sets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc import units
from gcs_hpc.maps import (bin_projected, galaxy_frame, make_model_maps, project, projected_half_mass_radius,
                          viewing_angles)
from gcs_hpc.particles import BULGE, DISK, GC, Particles
from gcs_hpc.specs import MapSpec


def _plummer(n: int, a: float, rng: np.random.Generator) -> np.ndarray:
    r = a / np.sqrt(rng.random(n) ** (-2.0 / 3.0) - 1.0)
    u = rng.normal(size=(n, 3))
    return r[:, None] * u / np.linalg.norm(u, axis=1, keepdims=True)


def _galaxy(n_stars: int = 4000, n_gc: int = 400, omega_sim: float = 2.0, seed: int = 1) -> Particles:
    """A Plummer sphere of stars (a = 0.2 units) with a thin solid-body rotating disk of GCs."""
    rng = np.random.default_rng(seed)
    star_pos = _plummer(n_stars, 0.2, rng)
    star_vel = rng.normal(0, 0.5, (n_stars, 3))
    r = 0.5 * np.sqrt(rng.random(n_gc))
    phi = 2 * np.pi * rng.random(n_gc)
    gc_pos = np.stack([r * np.cos(phi), r * np.sin(phi), np.zeros(n_gc)], axis=1)
    gc_vel = omega_sim * np.stack([-gc_pos[:, 1], gc_pos[:, 0], np.zeros(n_gc)], axis=1)
    component = np.concatenate([np.where(np.arange(n_stars) % 5 == 0, BULGE, DISK),
                                np.full(n_gc, GC)]).astype(np.int8)
    mass = np.concatenate([np.full(n_stars, 1.0 / n_stars), np.zeros(n_gc)])
    return Particles(pos=np.concatenate([star_pos, gc_pos]), vel=np.concatenate([star_vel, gc_vel]),
                     mass=mass, component=component, galaxy=np.zeros(n_stars + n_gc, np.int8))


def _moved(p: Particles, dx, dv) -> Particles:
    return Particles(pos=p.pos + np.asarray(dx), vel=p.vel + np.asarray(dv), mass=p.mass,
                     component=p.component, galaxy=p.galaxy)


def test_shapes_dtypes_and_determinism():
    p = _galaxy()
    spec = MapSpec(n_angles=20)
    maps, counts = make_model_maps(p, spec, 17.5)
    assert maps.shape == (20, 2, 10, 10) and maps.dtype == np.float32
    assert counts.shape == (20, 10, 10) and counts.dtype == np.int32
    again = make_model_maps(_galaxy(), spec, 17.5)
    np.testing.assert_array_equal(maps, again[0])
    np.testing.assert_array_equal(counts, again[1])


def test_rotating_gcs_give_v_gradient_omega_sin_theta():
    omega_sim = 2.0
    p = _galaxy(omega_sim=omega_sim, n_gc=20_000)
    spec = MapSpec(n_angles=30, fov=0.6, smoothing=0.0)  # 0.6 R_d = 10.5 kpc, inside the GC disk
    maps, counts = make_model_maps(p, spec, units.LENGTH_KPC)
    omega_kms_per_kpc = units.sim_to_kms(omega_sim) / units.LENGTH_KPC
    theta, _ = viewing_angles(30)
    centres = (np.arange(10) + 0.5) * 0.06 * units.LENGTH_KPC - 0.3 * units.LENGTH_KPC
    xx = np.broadcast_to(centres, (10, 10))
    for k in range(30):
        ok = counts[k] > 0
        slope = np.polyfit(xx[ok], maps[k, 1][ok], 1, w=np.sqrt(counts[k][ok]))[0]
        assert slope == pytest.approx(omega_kms_per_kpc * np.sin(np.radians(theta[k])),
                                      abs=0.05 * omega_kms_per_kpc)


def test_maps_do_not_depend_on_the_frame():
    p = _galaxy()
    spec = MapSpec(n_angles=10)
    maps, counts = make_model_maps(p, spec, 17.5)
    moved_maps, moved_counts = make_model_maps(_moved(p, [0.31, -0.2, 0.5], [1.0, 0.5, -0.2]), spec, 17.5)
    np.testing.assert_array_equal(counts, moved_counts)
    np.testing.assert_allclose(moved_maps, maps, atol=1e-3)


def test_centre_ignores_merger_debris():
    p = _galaxy(n_stars=6000)
    rng = np.random.default_rng(4)
    debris = 1500
    extra = Particles(
        pos=np.concatenate([p.pos, rng.normal([3.0, 1.0, 0.0], 0.3, (debris, 3))]),
        vel=np.concatenate([p.vel, rng.normal([0.0, 2.0, 0.0], 0.2, (debris, 3))]),
        mass=np.concatenate([p.mass, np.full(debris, p.mass[0])]),
        component=np.concatenate([p.component, np.full(debris, DISK, np.int8)]),
        galaxy=np.concatenate([p.galaxy, np.ones(debris, np.int8)]))
    spec = MapSpec(n_angles=10)
    clean, clean_counts = make_model_maps(p, spec, 17.5)
    with_debris, debris_counts = make_model_maps(extra, spec, 17.5)
    # The debris holds 20% of the stars 3 units (52 kpc) away: the centre of mass would move ~0.5 units
    # (9 kpc, four pixels); the density centre stays within a fraction of a pixel.
    moved = np.abs(debris_counts.astype(int) - clean_counts).sum() / clean_counts.sum()
    assert moved < 0.15
    assert np.median(np.abs(with_debris[:, 1] - clean[:, 1])) < 10.0  # km/s; V of the GCs ~ +-200 km/s


def test_projected_half_mass_radius_of_a_plummer_sphere_is_its_scale_length():
    rng = np.random.default_rng(8)
    a = 3.0
    pos = _plummer(40_000, a, rng)
    theta, phi = viewing_angles(12)
    r_half = projected_half_mass_radius(pos, np.ones(40_000), theta, phi)
    assert r_half.shape == (12,)
    np.testing.assert_allclose(r_half, a, rtol=0.03)
    # A thin uniform disk of radius R seen face-on: half the mass within R / sqrt(2).
    r = 5.0 * np.sqrt(rng.random(40_000))
    t = 2 * np.pi * rng.random(40_000)
    disk = np.stack([r * np.cos(t), r * np.sin(t), np.zeros_like(r)], axis=1)
    face_on = projected_half_mass_radius(disk, np.ones(40_000), np.array([0.0]), np.array([0.0]))
    assert face_on[0] == pytest.approx(5.0 / np.sqrt(2), rel=0.01)


def test_fov_in_units_of_the_projected_half_mass_radius():
    p = _galaxy()
    spec = MapSpec(n_angles=8, fov=4.0, fov_unit="R_half", smoothing=0.4)
    maps, counts = make_model_maps(p, spec, 17.5)
    theta, phi = viewing_angles(8)
    centre, velocity = galaxy_frame(p)
    stars = p.stars
    r_half_kpc = projected_half_mass_radius(units.sim_to_kpc(p.pos[stars] - centre), p.mass[stars],
                                            theta, phi)
    # A Plummer sphere of a = 0.2 units: R_half = a = 3.5 kpc from every side (4000 stars: ~5% noise).
    np.testing.assert_allclose(r_half_kpc, 0.2 * units.LENGTH_KPC, rtol=0.1)
    assert np.ptp(r_half_kpc) > 0  # measured per direction, not one number
    x, y, v = project(units.sim_to_kpc(p.pos[p.gcs] - centre), units.sim_to_kms(p.vel[p.gcs] - velocity),
                      theta, phi)
    ref_maps, ref_counts = bin_projected(x, y, v, spec, r_half_kpc)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_allclose(maps, ref_maps, rtol=1e-6, atol=1e-4)
    # Field of view 4 R_half ~ 14 kpc: most GCs of the 0.5-unit (8.75 kpc) disk fall inside.
    assert counts.sum(axis=(1, 2)).min() > 0.5 * 400


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("no_stars", "no stars"),
        ("no_gcs", "no globular clusters"),
        ("bad_size", "disk_size_kpc"),
    ],
)
def test_unusable_input_is_refused(change, match):
    p = _galaxy(n_stars=500, n_gc=50)
    size = 17.5
    if change == "no_stars":
        p = Particles(p.pos, p.vel, p.mass, np.where(p.component == GC, GC, 0).astype(np.int8), p.galaxy)
    elif change == "no_gcs":
        p = Particles(p.pos, p.vel, p.mass, np.where(p.component == GC, DISK, p.component).astype(np.int8),
                      p.galaxy)
    else:
        size = -1.0
    with pytest.raises(ValueError, match=match):
        make_model_maps(p, MapSpec(n_angles=4), size)


@pytest.mark.gpu
def test_cupy_maps_match_numpy():
    cupy = pytest.importorskip("cupy")
    p = _galaxy()
    spec = MapSpec(n_angles=50, fov_unit="R_half", fov=4.0, smoothing=0.4)
    ref_maps, ref_counts = make_model_maps(p, spec, 17.5)
    gpu_p = Particles(*(cupy.asarray(a) for a in (p.pos, p.vel, p.mass, p.component, p.galaxy)))
    maps, counts = make_model_maps(gpu_p, spec, 17.5, xp=cupy)
    np.testing.assert_array_equal(cupy.asnumpy(counts), ref_counts)
    np.testing.assert_allclose(cupy.asnumpy(maps), ref_maps, rtol=1e-4, atol=1e-2)
