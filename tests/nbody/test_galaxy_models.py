"""Galaxy models from gcs_hpc.galaxy evolved: isolated disks stay in equilibrium, mergers merge.

The merger runs at the ``tiny`` preset (~20 s); the ``quick`` merger is checked by benchmarks/nbody_run.py.
"""

from __future__ import annotations

import math

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


@pytest.mark.slow
@pytest.mark.xfail(reason="measured 2025-11: the quick disk's stellar surface density changes by up to 18% "
                          "(centre +18%, 0.45-0.6 units -16%) over 5 rotations at 0.7 kpc softening and 4000 "
                          "disk particles; not yet separated into IC disequilibrium vs numerics", strict=False)
def test_isolated_disk_keeps_its_profiles_over_five_rotations():
    spec = ModelSpec(kind="disk", galaxy=GalaxySpec(n_gc=2000), preset=QUICK, seed=3)
    particles = build_model(spec)
    stars = particles.stars
    gcs = particles.gcs
    # rotation period at 2.2 disk scale lengths (R0 = 0.2 R_d, R_d = 1 unit), from the initial stars
    r_cyl = np.hypot(particles.pos[stars, 0], particles.pos[stars, 1])
    ring = (r_cyl > 0.4) & (r_cyl < 0.48)
    v_phi = np.abs(np.cross(particles.pos[stars][ring][:, :2], particles.vel[stars][ring][:, :2])) / r_cyl[ring]
    period = 2.0 * math.pi * 0.44 / np.mean(v_phi)
    t_end = 5.0 * period
    result = evolve(particles, t_end=t_end, softening=SOFTENING, backend="tree", diagnostics_every=25,
                    model_name="disk-equilibrium")
    final = result.particles
    centre0 = np.array(result.diagnostics[0]["density_centre"])
    centre1 = np.array(result.stats["final_centre"])
    sd_edges = np.array([0.05, 0.15, 0.3, 0.45, 0.6, 0.8])
    sigma0 = surface_density_profile(particles.pos[stars] - centre0, particles.mass[stars], sd_edges)
    sigma1 = surface_density_profile(final.pos[stars] - centre1, final.mass[stars], sd_edges)
    assert np.all(np.abs(sigma1 / sigma0 - 1.0) < 0.10), (sigma0, sigma1)
    r_gc = np.linalg.norm(particles.pos[gcs] - centre0, axis=1)
    gc_edges = np.quantile(r_gc, [0.0, 1 / 3, 2 / 3, 0.95])
    disp0 = dispersion_profile(particles.pos[gcs] - centre0, particles.vel[gcs], gc_edges)
    disp1 = dispersion_profile(final.pos[gcs] - centre1, final.vel[gcs], gc_edges)
    assert np.all(np.abs(disp1 / disp0 - 1.0) < 0.10), (disp0, disp1)
    assert result.stats["max_rel_energy_error"] < QUICK.energy_tolerance


def test_tiny_merger_centres_meet_before_t20():
    # the quick-preset merger (same check) is in benchmarks/nbody_run.py: minutes, too long for CI
    tiny = PRESETS["tiny"]
    softening = kpc_to_sim(tiny.softening_kpc)
    spec = ModelSpec(kind="merger", galaxy=GalaxySpec(), preset=tiny, seed=1, merger=MergerSpec())
    result = evolve(build_model(spec), t_end=20.0, softening=softening, backend="auto", diagnostics_every=10,
                    model_name="tiny-merger")
    assert result.stats["backend"] == "compiled"
    distances = [(d["t"], float(np.linalg.norm(np.subtract(d["galaxy_centres"]["0"], d["galaxy_centres"]["1"]))))
                 for d in result.diagnostics]
    assert distances[0][1] > 10 * softening
    assert min(d for _, d in distances) < 2.0 * softening, distances[::10]
    assert result.stats["max_rel_energy_error"] < tiny.energy_tolerance
