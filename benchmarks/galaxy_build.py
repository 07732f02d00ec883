"""Benchmark: seconds per million particles to build a galaxy model on one core.

Builds a ``paper``-preset isolated disk model (1e6 halo + disk particles plus bulge and GCs; scale it
down with ``--scale``) with :func:`gcs_hpc.galaxy.build_model`, and, in the same run, a baseline: the
textbook per-particle way of drawing the NFW halo (von Neumann rejection of radii under a bounding density,
one particle at a time in Python, Gaussian velocities from a per-particle Jeans quadrature), timed on
``--baseline-n`` particles and reported per million. Both figures are printed side by side with their
ratio. Threads are pinned to one before NumPy is imported.

Usage: ``python benchmarks/galaxy_build.py [--scale 0.1] [--baseline-n 2000] [--seed 0]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import integrate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gcs_hpc.galaxy import build_model  # noqa: E402
from gcs_hpc.galaxy.models import GalaxyModel  # noqa: E402
from gcs_hpc.specs import PRESETS, GalaxySpec, ModelSpec  # noqa: E402


def naive_halo(model: GalaxyModel, n: int, rng: np.random.Generator, velocities: bool = True) -> np.ndarray:
    """Per-particle rejection sampling of NFW radii plus a per-particle Jeans quadrature (baseline)."""
    halo, pot = model.halo, model.potential
    r_cut = halo.truncation_radius
    # bound on r^2 rho(r) over (0, r_cut]: r^2 rho is increasing for NFW (proportional to x / (1 + x)^2
    # times rs^2 ... maximal at r = r_s), evaluate on a grid and pad
    grid = np.linspace(1e-6, r_cut, 10_000)
    bound = 1.01 * float(np.max(grid**2 * halo.density(grid)))
    out = np.empty((n, 6))
    for i in range(n):
        while True:
            r = rng.uniform(0.0, r_cut)
            if rng.uniform(0.0, bound) < r * r * float(halo.density(np.array([r]))[0]):
                break
        cos_t, phi = rng.uniform(-1, 1), rng.uniform(0, 2 * math.pi)
        sin_t = math.sqrt(1 - cos_t * cos_t)
        out[i, :3] = r * sin_t * math.cos(phi), r * sin_t * math.sin(phi), r * cos_t
        if not velocities:
            continue

        def integrand(s: float) -> float:
            x = np.array([s])
            return float(halo.density(x)[0] * pot.enclosed_mass(x)[0]) / s**2

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            sigma2 = integrate.quad(integrand, r, r_cut, limit=100)[0] / float(halo.density(np.array([r]))[0])
        out[i, 3:] = math.sqrt(max(sigma2, 0.0)) * rng.standard_normal(3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the paper preset's particles")
    parser.add_argument("--baseline-n", type=int, default=2000, help="particles drawn by the naive baseline")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    paper = PRESETS["paper"]
    preset = replace(paper, name=f"paper-x{args.scale:g}", n_halo=max(100, round(args.scale * paper.n_halo)),
                     n_disk=max(100, round(args.scale * paper.n_disk)))
    spec = ModelSpec("disk", GalaxySpec(), preset, seed=args.seed)

    start = time.perf_counter()
    particles = build_model(spec)
    ours_s = time.perf_counter() - start
    n = len(particles)

    model = GalaxyModel.from_spec(spec.galaxy)
    model.potential.enclosed_mass(np.array([1.0]))  # tables warm, as in build_model
    start = time.perf_counter()
    naive_halo(model, args.baseline_n, np.random.default_rng(args.seed), velocities=False)
    base_pos_s = time.perf_counter() - start
    start = time.perf_counter()
    naive_halo(model, args.baseline_n, np.random.default_rng(args.seed))
    base_s = time.perf_counter() - start

    ours = ours_s / n * 1e6
    base = base_s / args.baseline_n * 1e6
    base_pos = base_pos_s / args.baseline_n * 1e6
    print(f"model: {spec.kind}, preset {preset.name}, {n} particles "
          f"(halo {preset.n_halo}, disk {preset.n_disk})")
    print(f"{'method':<46}{'s per 1e6 particles':>22}")
    print(f"{'build_model (vectorised, all components)':<46}{ours:>22.3f}")
    print(f"{'naive halo: rejection positions only':<46}{base_pos:>22.1f}   ratio {base_pos / ours:.0f}x")
    print(f"{'naive halo: positions + per-particle Jeans':<46}{base:>22.1f}   ratio {base / ours:.0f}x")
    print(f"build_model wall time {ours_s:.2f} s; baselines timed on {args.baseline_n} halo particles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
