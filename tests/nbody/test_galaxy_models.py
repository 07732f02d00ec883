"""Galaxy models from gcs_hpc.galaxy evolved: isolated disks stay in equilibrium, mergers merge.

The merger runs at the ``tiny`` preset (~10-30 s); the ``quick`` merger is checked by benchmarks/nbody_run.py.
The disks run at the ``quick`` preset for 5 rotation periods at 2.2 disk scale lengths; the fiducial
(barred) disk only with ``GCS_HPC_LONG_TESTS=1``.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from gcs_hpc.galaxy import build_model
from gcs_hpc.nbody import evolve
from gcs_hpc.specs import PRESETS, GalaxySpec, MergerSpec, ModelSpec
from gcs_hpc.units import kpc_to_sim

QUICK = PRESETS["quick"]
SOFTENING = kpc_to_sim(QUICK.softening_kpc)


def surface_density_profile(pos: np.ndarray, mass: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Face-on surface density in cylindrical annuli about the density centre's projection."""
    radius = np.hypot(pos[:, 0], pos[:, 1])
    mass_in, _ = np.histogram(radius, bins=edges, weights=mass)
    return mass_in / (math.pi * np.diff(edges**2))


def dispersion_profile(pos: np.ndarray, vel: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """1D velocity dispersion sqrt(<|v - <v>|^2> / 3) of tracers in spherical shells."""
    radius = np.linalg.norm(pos, axis=1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        v = vel[(radius >= lo) & (radius < hi)]
        out.append(math.sqrt(np.mean(np.sum((v - v.mean(axis=0)) ** 2, axis=1)) / 3.0))
    return np.array(out)


#: Fractions of the stars (by initial cylindrical radius) bounding the surface-density bins: 4 bins of 20%
#: of the stars each (~900 star particles at the quick preset, Poisson noise ~3%).
STAR_BIN_FRACTIONS = (0.05, 0.25, 0.45, 0.65, 0.85)
#: The late profile is the mean over these fractions of the run (the last rotation), which halves the
#: noise of a single snapshot; the GCS dispersion uses tertiles of the GCs' radii (up to the 95th percentile).
LATE_FRACTIONS = (0.8, 0.85, 0.9, 0.95, 1.0)


def rotation_period(particles) -> float:
    """Rotation period at 2.2 disk scale lengths (R0 = 0.2 units at 1e12 Msun) of the initial stars."""
    stars = particles.stars
    r_cyl = np.hypot(particles.pos[stars, 0], particles.pos[stars, 1])
    ring = (r_cyl > 0.4) & (r_cyl < 0.48)
    pos, vel = particles.pos[stars][ring], particles.vel[stars][ring]
    v_phi = np.abs(np.cross(pos[:, :2], vel[:, :2])) / r_cyl[ring]
    return 2.0 * math.pi * 0.44 / float(np.mean(v_phi))


def disk_profile_changes(galaxy: GalaxySpec, seed: int, periods: float = 5.0) -> dict:
    """Evolve a quick-preset isolated disk for ``periods`` rotations; relative changes of its stellar
    surface-density profile and GCS velocity-dispersion profile (late mean / initial - 1) and run stats."""
    spec = ModelSpec(kind="disk", galaxy=galaxy, preset=QUICK, seed=seed)
    particles = build_model(spec)
    t_end = periods * rotation_period(particles)
    times = [f * t_end for f in LATE_FRACTIONS]
    result = evolve(particles, t_end=t_end, softening=SOFTENING, backend="tree", diagnostics_every=25,
                    output_times=times, model_name="disk-equilibrium")
    centre = {d["t"]: np.array(d["density_centre"]) for d in result.diagnostics}
    stars, gcs = particles.stars, particles.gcs
    r_star = np.hypot(*(particles.pos[stars] - centre[0.0])[:, :2].T)
    sd_edges = np.quantile(r_star, STAR_BIN_FRACTIONS)
    r_gc = np.linalg.norm(particles.pos[gcs] - centre[0.0], axis=1)
    gc_edges = np.quantile(r_gc, [0.0, 1 / 3, 2 / 3, 0.95])

    def profiles(p, c):
        return (surface_density_profile(p.pos[stars] - c, p.mass[stars], sd_edges),
                dispersion_profile(p.pos[gcs] - c, p.vel[gcs], gc_edges))

    sd0, disp0 = profiles(particles, centre[0.0])
    late = [profiles(result.snapshots[t], centre[t]) for t in times]
    return {"surface_density": np.mean([s for s, _ in late], axis=0) / sd0 - 1.0,
            "gcs_dispersion": np.mean([d for _, d in late], axis=0) / disp0 - 1.0,
            "sd_edges": sd_edges, "stats": result.stats}


#: Opt-in for runs too long for CI (minutes on one core): ``GCS_HPC_LONG_TESTS=1 pytest tests/nbody``.
LONG_TESTS = os.environ.get("GCS_HPC_LONG_TESTS") == "1"


@pytest.mark.slow
def test_bulge_dominated_disk_keeps_its_profiles_over_five_rotations():
    # f_b = 1 (inside the campaign's 0..4): Q = 1.5 disk around a bulge as massive as the disk. Measured on
    # 2 cores (seed 3): surface density -3.7/+3.6/-4.7/-5.8%, GCS dispersion 0.0/+2.0/+0.7%, ~40-70 s.
    changes = disk_profile_changes(GalaxySpec(n_gc=2000, f_b=1.0), seed=3)
    assert np.all(np.abs(changes["surface_density"]) < 0.10), changes
    assert np.all(np.abs(changes["gcs_dispersion"]) < 0.10), changes
    assert changes["stats"]["max_rel_energy_error"] < QUICK.energy_tolerance


FIDUCIAL_DISK_BARS = (
    "the fiducial Milky-Way disk (f_b = 0.17, Q = 1.5) forms a bar within 1-2 rotations (m = 2 amplitude "
    "inside 7 kpc 0.2-0.3 after 1-2 rotations, ~0.4 after 5): stellar surface density +15/-12/-8/-13% in "
    "bins of 20% of the stars, GCS dispersion within 1%. The bar persists with an equal-mass halo (11x the "
    "halo particles), twice the particles, half the time step, half the softening, sigma_z from vertical "
    "equilibrium, and with ICs in the softened field; it is much weaker at Q = 2.5 (amplitude <= 0.09) and "
    "f_b = 1 (<= 0.1 for 4 rotations): the bar instability of "
    "a disk-dominated inner rotation curve (Efstathiou, Lake & Negroponte 1982: v_max / sqrt(G M_d / R0) = "
    "0.8 < 1.1), physics of the paper's parameters, not an IC or integration error")


@pytest.mark.slow
@pytest.mark.skipif(not LONG_TESTS, reason="fiducial quick disk over 5 rotations: ~1.5 min on one core and "
                    "a known failure (see FIDUCIAL_DISK_BARS); opt in with GCS_HPC_LONG_TESTS=1")
@pytest.mark.xfail(reason=FIDUCIAL_DISK_BARS, strict=False)
def test_milky_way_disk_keeps_its_profiles_over_five_rotations():
    changes = disk_profile_changes(GalaxySpec(n_gc=2000), seed=3)
    assert np.all(np.abs(changes["gcs_dispersion"]) < 0.10), changes
    assert np.all(np.abs(changes["surface_density"]) < 0.10), changes


def test_tiny_merger_centres_meet_before_t20():
    # the quick-preset merger (same check) is in benchmarks/nbody_run.py: minutes, too long for CI
    tiny = PRESETS["tiny"]
    softening = kpc_to_sim(tiny.softening_kpc)
    spec = ModelSpec(kind="merger", galaxy=GalaxySpec(), preset=tiny, seed=1, merger=MergerSpec())
    result = evolve(build_model(spec), t_end=20.0, softening=softening, backend="auto", diagnostics_every=10,
                    model_name="tiny-merger")
    assert result.stats["backend"] == "tree"  # auto: 4570 particles
    distances = [(d["t"], float(np.linalg.norm(np.subtract(d["galaxy_centres"]["0"],
                                                           d["galaxy_centres"]["1"]))))
                 for d in result.diagnostics]
    assert distances[0][1] > 10 * softening
    assert min(d for _, d in distances) < 2.0 * softening, distances[::10]
    assert result.stats["max_rel_energy_error"] < tiny.energy_tolerance
