"""Binning and smoothing against analytic expectations and brute-force references."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.maps import bin_projected, pixel_centres, project, project_per_angle, viewing_angles
from gcs_hpc.specs import MapSpec

RNG_SEED = 20210868


def _rotating_disk(n: int, radius: float, omega: float, seed: int = RNG_SEED):
    """Thin disk of tracers, uniform within ``radius`` (kpc), rotating as a solid body (km/s/kpc)."""
    rng = np.random.default_rng(seed)
    r = radius * np.sqrt(rng.random(n))
    a = 2 * np.pi * rng.random(n)
    pos = np.stack([r * np.cos(a), r * np.sin(a), np.zeros(n)], axis=1)
    vel = omega * np.stack([-pos[:, 1], pos[:, 0], np.zeros(n)], axis=1)
    return pos, vel


def _slope_along(maps_v, counts, centres, axis):
    """Least-squares slope of V against the pixel centre along ``axis`` (1: x, 0: y), populated pixels."""
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    coord = xx if axis == 1 else yy
    ok = counts > 0
    return np.polyfit(coord[ok], maps_v[ok], 1)[0]


def test_solid_body_disk_gives_v_gradient_proportional_to_sin_inclination():
    omega = 10.0  # km/s per kpc
    # The disk overfills the field, so every pixel is uniformly covered and its mean x is its centre.
    pos, vel = _rotating_disk(50_000, radius=30.0, omega=omega)
    spec = MapSpec(n_angles=25, fov=20.0, fov_unit="kpc", smoothing=0.0)
    theta, phi = viewing_angles(spec.n_angles)
    x, y, v = project(pos, vel, theta, phi)
    maps, counts = bin_projected(x, y, v, spec, 1.0)
    c = pixel_centres(spec)
    for k in range(spec.n_angles):
        expected = omega * np.sin(np.radians(theta[k]))
        slope_x = _slope_along(maps[k, 1], counts[k], c, axis=1)
        slope_y = _slope_along(maps[k, 1], counts[k], c, axis=0)
        assert slope_x == pytest.approx(expected, abs=0.02 * omega)
        assert abs(slope_y) < 0.02 * omega
    # Exactly edge-on (theta = 90): V = omega x_image, so every pixel mean lies within half a pixel of it.
    x, y, v = project(pos, vel, np.array([90.0]), np.array([33.0]))
    maps, counts = bin_projected(x, y, v, spec, 1.0)
    xx = np.broadcast_to(c, (spec.npix, spec.npix))
    ok = counts[0] > 0
    assert np.all(np.abs(maps[0, 1][ok] - omega * xx[ok]) <= omega * 0.5 * spec.fov / spec.npix + 1e-9)
    assert maps[0, 1][ok].max() == pytest.approx(omega * c[-1], rel=0.02)  # amplitude omega x at the edge


def test_face_on_disk_has_no_line_of_sight_velocity():
    pos, vel = _rotating_disk(5_000, radius=10.0, omega=10.0)
    spec = MapSpec(n_angles=1, fov=20.0, fov_unit="kpc", smoothing=2.0)
    x, y, v = project(pos, vel, np.array([0.0]), np.array([0.0]))
    maps, counts = bin_projected(x, y, v, spec, 1.0)
    assert counts.sum() > 0.7 * 5_000
    np.testing.assert_allclose(maps[0, 1], 0.0, atol=1e-4)
    np.testing.assert_allclose(maps[0, 0], 0.0, atol=1e-3)


@pytest.mark.parametrize("smoothing", [0.0, 0.12, 0.3])
def test_isotropic_gaussian_velocities_give_sigma_equal_to_the_dispersion(smoothing):
    s = 80.0
    n_maps, n_gc = 200, 200
    rng = np.random.default_rng(RNG_SEED)
    x = rng.uniform(-0.6, 0.6, (n_maps, n_gc))
    y = rng.uniform(-0.6, 0.6, (n_maps, n_gc))
    v = rng.normal(0.0, s, (n_maps, n_gc))
    spec = MapSpec(n_angles=1, smoothing=smoothing)
    maps, counts = bin_projected(x, y, v, spec, 1.0)
    if smoothing == 0.0:
        ok = counts >= 2
        # Pool the unbiased per-pixel variances with weights n - 1: E = s^2.
        var = np.sum((counts[ok] - 1) * maps[:, 0][ok].astype(float) ** 2) / np.sum(counts[ok] - 1)
    else:
        var = np.mean(maps[:, 0].astype(float) ** 2)
    # The sampling error of a variance from ~40,000 GCs is ~1%; allow 3%.
    assert var == pytest.approx(s**2, rel=0.03)
    assert abs(np.mean(maps[:, 1])) < 3 * s / np.sqrt(n_maps * n_gc) * 3


def test_velocity_errors_are_removed_in_quadrature():
    s, err = 60.0, 40.0
    rng = np.random.default_rng(RNG_SEED)
    shape = (100, 400)
    x = rng.uniform(-0.6, 0.6, shape)
    y = rng.uniform(-0.6, 0.6, shape)
    v = rng.normal(0.0, s, shape) + rng.normal(0.0, err, shape)
    spec = MapSpec(n_angles=1, smoothing=0.2)
    raw, _ = bin_projected(x, y, v, spec, 1.0)
    corrected, _ = bin_projected(x, y, v, spec, 1.0, v_err_kms=np.full(shape, err))
    assert np.mean(raw[:, 0].astype(float) ** 2) == pytest.approx(s**2 + err**2, rel=0.04)
    assert np.mean(corrected[:, 0].astype(float) ** 2) == pytest.approx(s**2, rel=0.06)
    np.testing.assert_array_equal(raw[:, 1], corrected[:, 1])  # V is the plain mean either way
    huge, _ = bin_projected(x, y, v, spec, 1.0, v_err_kms=1e4)
    assert np.all(huge[:, 0] == 0.0)  # floored at 0, never NaN


def test_unsmoothed_maps_match_a_brute_force_per_pixel_loop():
    rng = np.random.default_rng(3)
    spec = MapSpec(n_angles=1, npix=6, fov=2.0, fov_unit="kpc", smoothing=0.0, empty_fill=-99.0)
    x = rng.normal(0, 0.7, 300)
    y = rng.normal(0, 0.7, 300)
    v = rng.normal(50.0, 30.0, 300)
    maps, counts = bin_projected(x, y, v, spec, 1.0)
    edges = np.linspace(-1.0, 1.0, spec.npix + 1)
    for iy in range(spec.npix):
        for ix in range(spec.npix):
            sel = ((x >= edges[ix]) & (x < edges[ix + 1]) & (y >= edges[iy]) & (y < edges[iy + 1]))
            assert counts[iy, ix] == sel.sum()
            if sel.sum() == 0:
                assert maps[0, iy, ix] == maps[1, iy, ix] == -99.0
            else:
                assert maps[1, iy, ix] == pytest.approx(v[sel].mean(), rel=1e-5)
                expected_sigma = v[sel].std(ddof=1) if sel.sum() > 1 else 0.0
                assert maps[0, iy, ix] == pytest.approx(expected_sigma, rel=1e-4, abs=1e-4)


def test_smoothing_behaves_as_documented():
    rng = np.random.default_rng(5)
    x = rng.uniform(-0.6, 0.6, 500)
    y = rng.uniform(-0.6, 0.6, 500)
    v = rng.normal(20.0, 50.0, 500)
    # A kernel much wider than the map averages every GC: V -> mean, sigma -> sample sd, everywhere.
    wide, counts = bin_projected(x, y, v, MapSpec(n_angles=1, smoothing=1e4), 1.0)
    np.testing.assert_allclose(wide[1], v.mean(), rtol=1e-4)
    np.testing.assert_allclose(wide[0], v.std(ddof=1), rtol=1e-4)
    # Counts are the raw counts whatever the smoothing.
    _, counts0 = bin_projected(x, y, v, MapSpec(n_angles=1, smoothing=0.0), 1.0)
    np.testing.assert_array_equal(counts, counts0)
    assert counts.sum() == 500
    # A constant velocity field stays constant, with zero dispersion.
    const, _ = bin_projected(x, y, np.full(500, 123.0), MapSpec(n_angles=1), 1.0)
    np.testing.assert_allclose(const[1], 123.0, rtol=1e-6)
    np.testing.assert_allclose(const[0], 0.0, atol=1e-3)
    # Kernel support: GCs all in the corner pixel; pixels farther than 3 R_sm stay empty (fill value).
    spec = MapSpec(n_angles=1, smoothing=0.12, empty_fill=-7.0)
    corner, counts = bin_projected(np.full(4, -0.55), np.full(4, -0.55), np.array([1., 2, 3, 4]),
                                   spec, 1.0)
    assert counts[0, 0] == 4 and counts.sum() == 4
    reach = np.zeros((10, 10), bool)
    reach[:4, :4] = True  # within 3 pixels (3 R_sm) along each axis
    np.testing.assert_allclose(corner[1][reach], 2.5, rtol=1e-6)
    np.testing.assert_allclose(corner[0][reach], np.std([1., 2, 3, 4], ddof=1), rtol=1e-5)
    assert np.all(corner[:, ~reach] == -7.0)


def test_vectorised_projection_equals_a_per_angle_loop():
    rng = np.random.default_rng(11)
    pos = rng.normal(0, 5, (300, 3))
    vel = rng.normal(0, 100, (300, 3))
    theta, phi = viewing_angles(64)
    at_once = project(pos, vel, theta, phi)
    looped = project_per_angle(pos, vel, theta, phi)
    for a, b in zip(at_once, looped):
        assert a.shape == (64, 300)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-10)
    spec = MapSpec(n_angles=64, fov=20.0, fov_unit="kpc", smoothing=1.0)
    maps, counts = bin_projected(*at_once, spec, 1.0)
    for k in range(64):
        m_k, c_k = bin_projected(at_once[0][k], at_once[1][k], at_once[2][k], spec, 1.0)
        np.testing.assert_array_equal(maps[k], m_k)
        np.testing.assert_array_equal(counts[k], c_k)


def test_per_map_scale_and_leading_dimensions():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3, (2, 3, 100))
    y = rng.normal(0, 3, (2, 3, 100))
    v = rng.normal(0, 50, (2, 3, 100))
    scale = np.array([[5.0, 10.0, 20.0], [1.0, 2.0, 4.0]])
    spec = MapSpec(n_angles=1)
    maps, counts = bin_projected(x, y, v, spec, scale)
    assert maps.shape == (2, 3, 2, 10, 10) and maps.dtype == np.float32
    assert counts.shape == (2, 3, 10, 10) and counts.dtype == np.int32
    single, single_counts = bin_projected(x[1, 2], y[1, 2], v[1, 2], spec, 4.0)
    np.testing.assert_array_equal(maps[1, 2], single)
    np.testing.assert_array_equal(counts[1, 2], single_counts)
    # The same data scaled with the length unit give the same maps.
    scaled, _ = bin_projected(2 * x, 2 * y, v, spec, 2 * scale)
    np.testing.assert_allclose(scaled, maps, rtol=1e-5, atol=1e-3)


def test_identical_inputs_give_identical_maps():
    rng = np.random.default_rng(9)
    args = [rng.normal(0, 5, (100, 200)) for _ in range(2)] + [rng.normal(0, 80, (100, 200))]
    a = bin_projected(*args, MapSpec(), 17.5)
    b = bin_projected(*[np.copy(z) for z in args], MapSpec(), 17.5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale_kpc": 0.0}, "scale_kpc must be finite and > 0"),
        ({"scale_kpc": np.ones(3)}, "scale_kpc has shape"),
        ({"v_kms": np.array([1.0, np.nan])}, "v_kms holds NaN"),
        ({"y_kpc": np.array([np.inf, 0.0])}, "x_kpc or y_kpc holds NaN or inf"),
        ({"x_kpc": np.zeros(3)}, "must have one shape"),
        ({"v_err_kms": -1.0}, "v_err_kms must be finite and >= 0"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs, match):
    args = {"x_kpc": np.zeros(2), "y_kpc": np.zeros(2), "v_kms": np.zeros(2), "scale_kpc": 1.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        bin_projected(args.pop("x_kpc"), args.pop("y_kpc"), args.pop("v_kms"), MapSpec(), **args)


def test_maps_without_gcs_are_all_fill():
    spec = MapSpec(n_angles=1, empty_fill=50.0)
    maps, counts = bin_projected(np.zeros((3, 0)), np.zeros((3, 0)), np.zeros((3, 0)), spec, 1.0)
    assert maps.shape == (3, 2, 10, 10) and np.all(maps == 50.0)
    assert counts.shape == (3, 10, 10) and np.all(counts == 0)
    far, far_counts = bin_projected(np.full(5, 100.0), np.zeros(5), np.ones(5), spec, 1.0)
    assert np.all(far == 50.0) and far_counts.sum() == 0
