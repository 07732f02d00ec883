"""Benchmark: kinematic maps per second on one core, vectorised over angles against a per-angle loop.

For a model with ``--n-stars`` stars and 200 or 20,000 GCs, times :func:`gcs_hpc.maps.make_model_maps`
(centre, rest frame, projection of all 100 angles at once, binning and smoothing) and, in the same run,
the baseline: the same maps made one viewing angle at a time (per-angle projection and binning in a
Python loop, the straightforward way). Both give identical maps (checked). Figures are maps (one angle
= one map of two channels) per second, best of ``--repeat``, side by side with their ratio; the shared
centre/rest-frame step is timed once and reported too. Also times the store's region write
(``write_model``) per model. Threads are pinned to one before NumPy is imported.

Usage: ``python benchmarks/maps.py [--n-angles 100] [--n-stars 20000] [--repeat 5]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gcs_hpc import units  # noqa: E402
from gcs_hpc.maps import (bin_projected, galaxy_frame, make_model_maps, project,  # noqa: E402
                          project_per_angle, viewing_angles)
from gcs_hpc.particles import DISK, GC, Particles  # noqa: E402
from gcs_hpc.specs import PRESETS, GalaxySpec, MapSpec, ModelSpec  # noqa: E402
from gcs_hpc.store import create_store, write_model  # noqa: E402

DISK_SIZE_KPC = units.LENGTH_KPC


def synthetic_model(n_stars: int, n_gc: int, seed: int = 0) -> Particles:
    """Plummer sphere of stars (a = 0.2 units) and a rotating, extended GCS (a = 0.3 units)."""
    rng = np.random.default_rng(seed)

    def plummer(n: int, a: float) -> np.ndarray:
        r = a / np.sqrt(rng.random(n) ** (-2.0 / 3.0) - 1.0)
        u = rng.normal(size=(n, 3))
        return np.minimum(r, 3.0)[:, None] * u / np.linalg.norm(u, axis=1, keepdims=True)

    star_pos, gc_pos = plummer(n_stars, 0.2), plummer(n_gc, 0.3)
    spin = np.stack([-gc_pos[:, 1], gc_pos[:, 0], np.zeros(n_gc)], axis=1)
    gc_vel = rng.normal(0, 1.0, (n_gc, 3)) + 0.5 * spin
    n = n_stars + n_gc
    return Particles(pos=np.concatenate([star_pos, gc_pos]),
                     vel=np.concatenate([rng.normal(0, 0.5, (n_stars, 3)), gc_vel]),
                     mass=np.concatenate([np.full(n_stars, 1.0 / n_stars), np.zeros(n_gc)]),
                     component=np.concatenate([np.full(n_stars, DISK), np.full(n_gc, GC)]).astype(np.int8),
                     galaxy=np.zeros(n, np.int8))


def per_angle_model_maps(particles: Particles, spec: MapSpec, disk_size_kpc: float):
    """Baseline: the same maps, one viewing angle at a time."""
    centre, velocity = galaxy_frame(particles)
    gcs = particles.gcs
    pos = units.sim_to_kpc(particles.pos[gcs] - centre)
    vel = units.sim_to_kms(particles.vel[gcs] - velocity)
    theta, phi = viewing_angles(spec.n_angles)
    maps, counts = [], []
    for t, p in zip(theta, phi):
        x, y, v = project_per_angle(pos, vel, np.array([t]), np.array([p]))
        m, c = bin_projected(x[0], y[0], v[0], spec, disk_size_kpc)
        maps.append(m)
        counts.append(c)
    return np.stack(maps), np.stack(counts)


def best_time(fn, repeat: int) -> tuple[float, object]:
    """Best CPU time of ``repeat`` calls (CPU time: robust on a shared machine for one-thread work)."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def gc_views(particles: Particles):
    """GC positions (kpc) and velocities (km/s) in the galaxy frame, and the viewing angles."""
    centre, velocity = galaxy_frame(particles)
    gcs = particles.gcs
    return (units.sim_to_kpc(particles.pos[gcs] - centre), units.sim_to_kms(particles.vel[gcs] - velocity))


def project_and_bin(pos, vel, spec: MapSpec, theta, phi):
    return bin_projected(*project(pos, vel, theta, phi), spec, DISK_SIZE_KPC)


def project_and_bin_per_angle(pos, vel, spec: MapSpec, theta, phi):
    out = [bin_projected(*(a[0] for a in project_per_angle(pos, vel, np.array([t]), np.array([p]))), spec,
                         DISK_SIZE_KPC) for t, p in zip(theta, phi)]
    return np.stack([m for m, _ in out]), np.stack([c for _, c in out])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-angles", type=int, default=100)
    parser.add_argument("--n-stars", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    spec = MapSpec(n_angles=args.n_angles)
    print(f"maps benchmark: {args.n_angles} angles, {args.n_stars} stars, 10x10 pixels, one core, "
          f"best of {args.repeat}")
    print("maps per second (one map = one viewing angle, sigma and V); CPU time")
    print(f"{'n_gc':>7} {'step':<34} {'vectorised':>11} {'per-angle loop':>15} {'ratio':>7}")
    theta, phi = viewing_angles(spec.n_angles)
    for n_gc in (200, 20_000):
        particles = synthetic_model(args.n_stars, n_gc)
        t_frame, (pos, vel) = best_time(lambda: gc_views(particles), args.repeat)
        t_vec, (maps, counts) = best_time(lambda: make_model_maps(particles, spec, DISK_SIZE_KPC),
                                          args.repeat)
        t_loop, (maps_l, counts_l) = best_time(lambda: per_angle_model_maps(particles, spec, DISK_SIZE_KPC),
                                               args.repeat)
        np.testing.assert_array_equal(counts, counts_l)
        np.testing.assert_allclose(maps, maps_l, rtol=1e-5, atol=1e-3)
        t_pb, _ = best_time(lambda: project_and_bin(pos, vel, spec, theta, phi), args.repeat)
        t_pb_loop, _ = best_time(lambda: project_and_bin_per_angle(pos, vel, spec, theta, phi), args.repeat)
        n = args.n_angles
        print(f"{n_gc:>7} {'make_model_maps (centre+frame+maps)':<34} {n / t_vec:>11.0f} {n / t_loop:>15.0f} "
              f"{t_loop / t_vec:>7.1f}")
        print(f"{n_gc:>7} {'project + bin + smooth only':<34} {n / t_pb:>11.0f} {n / t_pb_loop:>15.0f} "
              f"{t_pb_loop / t_pb:>7.1f}")
        print(f"{n_gc:>7} {'(centre + rest frame, shared)':<34} {1e3 * t_frame:>9.1f} ms")
    n_models = 20
    with tempfile.TemporaryDirectory() as tmp:
        models = [ModelSpec("disk", GalaxySpec(M_halo=1e12 * (1 + i)), PRESETS["tiny"], seed=i)
                  for i in range(n_models)]
        path = Path(tmp) / "cube.zarr"
        t0 = time.perf_counter()
        create_store(path, models, spec, "benchmark: true\n")
        t_create = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(n_models):
            write_model(path, i, maps, counts)
        t_write = (time.perf_counter() - t0) / n_models
    print(f"store: create {n_models}-model template {1e3 * t_create:.0f} ms; write_model "
          f"{1e3 * t_write:.1f} ms per model ({args.n_angles} angles, region write + status)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
