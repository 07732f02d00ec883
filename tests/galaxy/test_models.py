"""Whole models: equilibrium (Toomre Q, virial ratio), GCS rotation, merger orbit, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcs_hpc import units
from gcs_hpc.galaxy import build_model, disk_size_kpc
from gcs_hpc.galaxy.components import rotation_energy_fraction
from gcs_hpc.galaxy.diagnostics import potential_energy, toomre_q, virial_ratio
from gcs_hpc.galaxy.models import GalaxyModel, neto_concentration, realise_galaxies, virial_radius_kpc
from gcs_hpc.particles import BULGE, DISK, GC, HALO
from gcs_hpc.specs import PRESETS, GalaxySpec, MergerSpec, ModelSpec, Preset

TINY = PRESETS["tiny"]
#: A preset with a well-sampled disk for the Toomre Q measurement.
DENSE_DISK = Preset("dense-disk", n_halo=2000, n_disk=40_000, softening_kpc=0.5, t_end_disk=1.0,
                    t_end_merger=1.0)


def _spec(kind="disk", preset=TINY, seed=0, merger=None, **galaxy):
    return ModelSpec(kind, GalaxySpec(**galaxy), preset, seed=seed, merger=merger)


def test_disk_size_scales_with_virial_radius():
    assert disk_size_kpc(GalaxySpec()) == pytest.approx(17.5)
    assert disk_size_kpc(GalaxySpec(M_halo=8e12)) == pytest.approx(35.0)
    ratio = virial_radius_kpc(8e12) / virial_radius_kpc(1e12)
    assert ratio == pytest.approx(2.0)


def test_particle_counts_masses_and_com_frame():
    spec = _spec(f_b=0.5, n_gc=123)
    p = build_model(spec)
    counts = {c: int(np.sum(p.component == c)) for c in (HALO, DISK, BULGE, GC)}
    assert counts == {HALO: TINY.n_halo, DISK: TINY.n_disk, BULGE: round(0.5 * TINY.n_disk), GC: 123}
    assert p.pos.dtype == np.float64 and p.vel.dtype == np.float64
    assert np.all(p.mass[p.component == GC] == 0.0)
    # total mass exact; bulge and disk particles share one mass
    assert units.sim_to_msun(p.mass.sum()) == pytest.approx(spec.M_total, rel=1e-12)
    assert p.mass[p.component == BULGE][0] == pytest.approx(p.mass[p.component == DISK][0], rel=1e-12)
    # centre-of-mass frame
    np.testing.assert_allclose(p.mass @ p.pos / p.mass.sum(), 0.0, atol=1e-12)
    np.testing.assert_allclose(p.mass @ p.vel / p.mass.sum(), 0.0, atol=1e-12)


def test_enclosed_masses_match_model_within_sampling_noise():
    spec = _spec(preset=PRESETS["quick"], seed=3)
    (model,), (p,) = realise_galaxies(spec)
    r = np.linalg.norm(p.pos, axis=1)
    m_halo = p.mass[p.component == HALO][0]
    radii = (model.disk.scale_length, model.disk_size, 3 * model.disk_size,
             0.5 * model.halo.truncation_radius)
    for radius in radii:
        for code, comp in ((HALO, model.halo), (DISK, model.disk), (BULGE, model.bulge)):
            sel = p.component == code
            n = sel.sum()
            frac = float(comp.enclosed_mass(np.array([radius]))[0] / comp.mass)
            measured = np.mean(r[sel] < radius)
            # particles come in mirrored pairs: n / 2 independent draws
            assert abs(measured - frac) < 4 * math.sqrt(frac * (1 - frac) / (n / 2)) + 2 / n
    assert p.mass[p.component == HALO].sum() == pytest.approx(model.halo.mass)
    assert m_halo * spec.preset.n_halo == pytest.approx(units.msun_to_sim(1e12))


def test_toomre_q_at_two_scale_lengths():
    spec = _spec(preset=DENSE_DISK, seed=11)
    (model,), (p,) = realise_galaxies(spec)
    assert toomre_q(p, model) == pytest.approx(1.5, abs=0.15)
    # and the disk rotates about +z
    disk = p.component == DISK
    assert np.mean(np.cross(p.pos[disk], p.vel[disk])[:, 2]) > 0


def test_virial_ratio_of_whole_model():
    p = build_model(_spec(preset=PRESETS["quick"], seed=5))
    assert 0.95 <= virial_ratio(p) <= 1.05


def test_potential_energy_direct_sum_and_subsample():
    rng = np.random.default_rng(0)
    pos, mass = rng.normal(size=(1500, 3)), rng.uniform(0.5, 1.5, 1500)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    iu = np.triu_indices(1500, k=1)
    exact = -np.sum(mass[iu[0]] * mass[iu[1]] / d[iu])
    assert potential_energy(pos, mass) == pytest.approx(exact, rel=1e-12)
    assert potential_energy(pos, mass, max_direct=1000) == pytest.approx(exact, rel=0.03)


@pytest.mark.parametrize("f_rot", [0.0, 0.3, 0.9])
def test_gcs_rotation_fraction(f_rot):
    p = build_model(_spec(seed=2, f_rot=f_rot, n_gc=200))
    gc = p.component == GC
    assert rotation_energy_fraction(p.pos[gc], p.vel[gc]) == pytest.approx(f_rot, abs=0.01)


def test_merger_orbit_and_spins():
    merger = MergerSpec(m2=0.5, f_v=0.45, theta_1=30.0, theta_2=120.0, separation=6.0)
    spec = _spec("merger", merger=merger, seed=4)
    p = build_model(spec)
    com = {}
    for g in (0, 1):
        sel = (p.galaxy == g) & (p.mass > 0)
        m = p.mass[sel]
        com[g] = (m @ p.pos[sel] / m.sum(), m @ p.vel[sel] / m.sum(), m.sum())
    # whole system in its centre-of-mass frame
    np.testing.assert_allclose(p.mass @ p.pos, 0.0, atol=1e-10)
    np.testing.assert_allclose(p.mass @ p.vel, 0.0, atol=1e-10)
    d = 6.0 * units.kpc_to_sim(disk_size_kpc(spec.galaxy))
    rel_pos, rel_vel = com[1][0] - com[0][0], com[1][1] - com[0][1]
    np.testing.assert_allclose(rel_pos, [d, 0.0, 0.0], atol=2e-3)

    # v_c(d) from the analytic NFW + all disk and bulge mass (d = 6 R_d is outside both stellar bodies)
    def mass_inside(m_halo_msun):
        c = neto_concentration(m_halo_msun)
        rs = units.kpc_to_sim(virial_radius_kpc(m_halo_msun)) / c
        m = lambda x: math.log1p(x) - x / (1 + x)  # noqa: E731
        return units.msun_to_sim(m_halo_msun * (m(min(d / rs, c)) / m(c) + 0.06 * 1.17))

    v_c = math.sqrt(mass_inside(1e12) + mass_inside(0.5e12)) / math.sqrt(d)
    np.testing.assert_allclose(rel_vel, [0.0, 0.45 * v_c, 0.0], atol=2e-3 * v_c)
    assert com[1][2] / com[0][2] == pytest.approx(0.5, rel=1e-3)
    # spins: disk angular momentum of each galaxy along (sin theta, 0, cos theta)
    for g, theta in ((0, 30.0), (1, 120.0)):
        sel = (p.galaxy == g) & (p.component == DISK)
        L = np.sum(p.mass[sel, None] * np.cross(p.pos[sel] - com[g][0], p.vel[sel] - com[g][1]), axis=0)
        expect = [math.sin(math.radians(theta)), 0.0, math.cos(math.radians(theta))]
        assert np.dot(L / np.linalg.norm(L), expect) > math.cos(math.radians(2.0))
    # secondary particle numbers scaled by m2
    assert np.sum((p.galaxy == 1) & (p.component == HALO)) == round(0.5 * TINY.n_halo)
    assert np.sum((p.galaxy == 1) & (p.component == GC)) == 100


def test_same_spec_is_bit_identical_and_seed_matters():
    spec = _spec("merger", merger=MergerSpec(theta_1=10.0), seed=9, f_rot=0.5)
    a, b = build_model(spec), build_model(spec)
    for name in ("pos", "vel", "mass", "component", "galaxy"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    c = build_model(ModelSpec("merger", spec.galaxy, TINY, seed=10, merger=spec.merger))
    assert not np.array_equal(a.pos, c.pos)
    # the GC number does not change the stars or the halo (one random stream per component)
    d = build_model(_spec(seed=9, f_rot=0.5, n_gc=50))
    e = build_model(_spec(seed=9, f_rot=0.5, n_gc=60))
    stars = d.component != GC
    assert np.array_equal(d.pos[stars], e.pos[e.component != GC])


def test_galaxy_model_without_bulge():
    model = GalaxyModel.from_spec(GalaxySpec(f_b=0.0, c=12.0))
    assert model.bulge is None and model.halo.concentration == 12.0
    p = build_model(_spec(f_b=0.0))
    assert not np.any(p.component == BULGE)
