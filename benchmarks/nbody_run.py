"""End-to-end speed and the merger check: a ``quick`` merger model to t = 20 on one core.

Prints wall seconds, steps, seconds per step, where the time goes (one tree build, one tree walk over all
particles, one diagnostics record, all measured on the initial state), max |dE/E|, and when the two
stellar centres first came within 2 softening lengths (the issue's "merger merges" check, too long for CI:
tests/nbody runs the same check at the ``tiny`` preset). Baselines measured in the same run:

- one exact compiled direct-sum force evaluation on the same particles (how many direct-sum steps the whole
  run costs);
- with ``--baseline-options JSON`` a second full run with other tree options, e.g. the previous defaults
  ``'{"opening_angle": 0.6, "group_size": 32}'``, printed side by side as a ratio.

On a shared machine the wall time depends on the load; the process's CPU time (printed too, one thread)
is about what an idle core would take. Target: under 2 minutes on one core. Run:
``python benchmarks/nbody_run.py [--t-end 20] [--seed 1] [--backend tree] [--baseline-options JSON]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGS.add_argument("--t-end", type=float, default=None)
ARGS.add_argument("--seed", type=int, default=1)
ARGS.add_argument("--backend", default="tree")
ARGS.add_argument("--options", default="{}", help="backend options (JSON) of the measured run")
ARGS.add_argument("--baseline-options", default=None, help="backend options (JSON) of a second, baseline run")
OPTS = ARGS.parse_args()
os.environ["NUMBA_NUM_THREADS"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from gcs_hpc.galaxy import build_model  # noqa: E402
from gcs_hpc.nbody import evolve, get_backend  # noqa: E402
from gcs_hpc.nbody.diagnostics import first_meeting, stellar_centres  # noqa: E402
from gcs_hpc.specs import PRESETS, GalaxySpec, MergerSpec, ModelSpec  # noqa: E402
from gcs_hpc.units import kpc_to_sim  # noqa: E402


def best_time(fn, repeat: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(particles, t_end: float, eps: float, options: dict, label: str) -> dict:
    cpu0 = time.process_time()
    result = evolve(particles, t_end=t_end, softening=eps, backend=OPTS.backend, model_name="bench-merger",
                    backend_options=options or None)
    cpu = time.process_time() - cpu0
    s = result.stats
    met = first_meeting(result.diagnostics, 2.0 * eps)
    print(f"[{label}] backend {s['backend']} options {json.dumps(options)}")
    print(f"  evolve to t = {t_end:<6g}   {s['wall_s']:8.2f} s   ({s['steps']} steps, dt = {s['dt']:.4f}, "
          f"{s['wall_s'] / s['steps'] * 1e3:.1f} ms/step)")
    print(f"  CPU time of the process {cpu:8.2f} s   (one thread: about the wall time on an idle core)")
    print(f"  max |dE/E|             {s['max_rel_energy_error']:.2e}")
    print(f"  centres within 2 eps   {'at t = %.2f' % met if met is not None else 'not before the end'}")
    return {"wall_s": s["wall_s"], "met": met}


def main() -> None:
    preset = PRESETS["quick"]
    spec = ModelSpec(kind="merger", galaxy=GalaxySpec(), preset=preset, seed=OPTS.seed, merger=MergerSpec())
    t0 = time.perf_counter()
    particles = build_model(spec)
    t_build = time.perf_counter() - t0
    eps = kpc_to_sim(preset.softening_kpc)
    massive = particles.mass > 0
    src, m = particles.pos[massive], particles.mass[massive]
    t_direct = best_time(lambda: get_backend("compiled", threads=1).accelerations(particles.pos, src, m, eps),
                         repeat=1)
    options = json.loads(OPTS.options)
    t_end = spec.t_end if OPTS.t_end is None else OPTS.t_end
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")
    print(f"quick merger: N = {len(particles)} ({int(massive.sum())} massive), 1 thread; build_model "
          f"{t_build:.2f} s")
    if OPTS.backend == "tree":
        tree = get_backend("tree", threads=1, **options)
        t_prepare = best_time(lambda: tree.prepare(src, m, eps))
        field = tree.prepare(src, m, eps)
        t_walk = best_time(lambda: field.at(src, potential=True))
        t_tracers = best_time(lambda: field.at(particles.pos[~massive]))
        print(f"  per force call: tree build {t_prepare * 1e3:.1f} ms, walk (massive) {t_walk * 1e3:.1f} ms, "
              f"walk (GCs) {t_tracers * 1e3:.1f} ms")
    t_diag = best_time(lambda: stellar_centres(np, particles.pos, particles.mass, particles.component,
                                               particles.galaxy))
    print(f"  per diagnostics record: stellar centres {t_diag * 1e3:.1f} ms (every 10 steps)")
    print(f"  baseline: one compiled direct-sum force {t_direct * 1e3:.1f} ms")
    measured = run(particles, t_end, eps, options, "measured")
    print(f"  whole run = {measured['wall_s'] / t_direct:.0f} direct-sum forces")
    if OPTS.baseline_options is not None:
        base = run(particles, t_end, eps, json.loads(OPTS.baseline_options), "baseline")
        print(f"  measured / baseline wall time: {measured['wall_s'] / base['wall_s']:.2f}")
    load = os.getloadavg()
    print(f"  load average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if t_end == spec.t_end:
        print(f"  target < 120 s: {'met' if measured['wall_s'] < 120 else 'NOT met'} on this (shared) machine")
    else:
        print(f"  extrapolated to t = {spec.t_end:g}: {measured['wall_s'] * spec.t_end / t_end:.0f} s (target 120 s)")


if __name__ == "__main__":
    main()
