"""End-to-end speed: a ``quick`` merger model to t = 20 on one core with the tree backend.

Prints wall seconds, steps, seconds per step and max |dE/E|, beside a baseline measured in the same run:
the time of one exact compiled direct-sum force evaluation on the same particles (so the ratio says how
many direct-sum steps the whole tree run costs). Target: under 2 minutes on one core. Run:
``python benchmarks/nbody_run.py [--t-end 20] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGS.add_argument("--t-end", type=float, default=None)
ARGS.add_argument("--seed", type=int, default=1)
ARGS.add_argument("--backend", default="tree")
OPTS = ARGS.parse_args()
os.environ["NUMBA_NUM_THREADS"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gcs_hpc.galaxy import build_model  # noqa: E402
from gcs_hpc.nbody import evolve, get_backend  # noqa: E402
from gcs_hpc.specs import PRESETS, GalaxySpec, MergerSpec, ModelSpec  # noqa: E402
from gcs_hpc.units import kpc_to_sim  # noqa: E402


def main() -> None:
    preset = PRESETS["quick"]
    spec = ModelSpec(kind="merger", galaxy=GalaxySpec(), preset=preset, seed=OPTS.seed, merger=MergerSpec())
    t0 = time.perf_counter()
    particles = build_model(spec)
    t_build = time.perf_counter() - t0
    eps = kpc_to_sim(preset.softening_kpc)
    massive = particles.mass > 0
    compiled = get_backend("compiled", threads=1)
    compiled.accelerations(particles.pos[:100], particles.pos[massive], particles.mass[massive], eps)
    t0 = time.perf_counter()
    compiled.accelerations(particles.pos, particles.pos[massive], particles.mass[massive], eps)
    t_direct = time.perf_counter() - t0
    t_end = spec.t_end if OPTS.t_end is None else OPTS.t_end
    result = evolve(particles, t_end=t_end, softening=eps, backend=OPTS.backend, model_name="bench-merger")
    s = result.stats
    per_step = s["wall_s"] / s["steps"]
    print(f"quick merger: N = {s['n']} ({s['n_massive']} massive), backend {s['backend']}, 1 thread")
    print(f"  build_model            {t_build:8.2f} s")
    print(f"  evolve to t = {t_end:<6g}   {s['wall_s']:8.2f} s   ({s['steps']} steps, dt = {s['dt']:.4f})")
    print(f"  per step               {per_step * 1e3:8.2f} ms")
    print(f"  baseline: one compiled direct-sum force {t_direct * 1e3:8.2f} ms  -> tree step / direct force = "
          f"{per_step / t_direct:.3f}; whole run = {s['wall_s'] / t_direct:.0f} direct forces")
    print(f"  max |dE/E|             {s['max_rel_energy_error']:.2e}")
    if t_end == spec.t_end:
        print(f"  target < 120 s: {'met' if s['wall_s'] < 120 else 'NOT met'} on this (shared) machine")
    else:
        print(f"  extrapolated to t = {spec.t_end:g}: {s['wall_s'] * spec.t_end / t_end:.0f} s (target 120 s)")


if __name__ == "__main__":
    main()
