"""Command line: run one model and print its run statistics.

``python -m gcs_hpc.nbody --kind disk|merger --preset quick --seed N --t-end T --backend NAME --json``
builds the model with :func:`gcs_hpc.galaxy.build_model` (default galaxy and merger orbit of
:mod:`gcs_hpc.specs`), evolves it with :func:`gcs_hpc.nbody.evolve`, and prints backend, N, steps, wall
seconds, max |dE/E| and the final stellar density centre (kpc). Exit status 1 with the message on a
:class:`gcs_hpc.errors.GcsError` (bad input, failed run).

A long run prints a progress line on stderr every ``--progress-every`` seconds (simulated time reached,
steps, wall seconds): the run goes in pieces through a temporary checkpoint, which gives the same result
as one piece (restarts are bit-identical). ``--quiet`` or ``--json`` turn the lines off.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from gcs_hpc.backends import BACKEND_CHOICES
from gcs_hpc.cli import with_help_defaults
from gcs_hpc.errors import GcsError
from gcs_hpc.specs import MODEL_KINDS, PRESETS, GalaxySpec, MergerSpec, ModelSpec, get_preset
from gcs_hpc.units import kpc_to_sim, sim_to_kpc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gcs_hpc.nbody", description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=MODEL_KINDS, default="disk", help="isolated disk or major merger")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick", help="resolution preset")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initial conditions")
    parser.add_argument("--t-end", type=float, default=None,
                        help="end time in simulation units (default: the preset's, by kind)")
    parser.add_argument("--backend", default="auto", help=", ".join(BACKEND_CHOICES))
    parser.add_argument("--xp", default="numpy", choices=("numpy", "cupy"), help="array module")
    parser.add_argument("--json", action="store_true",
                        help="print the statistics as JSON (no progress lines)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--progress-every", type=float, default=10.0, metavar="S",
                        help="wall seconds between progress lines on stderr (0: none)")
    return with_help_defaults(parser)


def evolve_with_progress(evolve: Callable[..., Any], particles: Any, options: dict[str, Any],
                         every_s: float) -> Any:
    """Run ``evolve(particles, **options)`` in pieces of about ``every_s`` wall seconds through a temporary
    checkpoint, printing after each piece a line on stderr; return the last piece's result."""
    start, steps_per_piece, steps = time.monotonic(), 1, 0
    with tempfile.TemporaryDirectory(prefix="gcs_hpc_nbody_") as folder:
        checkpoint = Path(folder) / "run.npz"
        while True:
            piece_start = time.monotonic()
            steps += steps_per_piece
            result = evolve(particles, checkpoint_path=checkpoint, stop_after_steps=steps, **options)
            s = result.stats
            if s.get("complete", True):
                return result
            done = 100 * s["t"] / options["t_end"]
            print(f"nbody: t = {s['t']:.4g} of {options['t_end']:g} ({done:.0f}%), {s['steps']} steps, "
                  f"{time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
            per_step = max(time.monotonic() - piece_start, 1e-6) / steps_per_piece
            steps_per_piece = max(1, int(every_s / per_step))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from gcs_hpc.config import check_choice, check_range
        from gcs_hpc.galaxy import build_model
        from gcs_hpc.nbody import evolve
        from gcs_hpc.xp import array_module

        check_choice("nbody", "backend", args.backend, BACKEND_CHOICES)
        preset = get_preset(args.preset)
        spec = ModelSpec(kind=args.kind, galaxy=GalaxySpec(), preset=preset, seed=args.seed,
                         merger=MergerSpec() if args.kind == "merger" else None)
        check_range("nbody", "--progress-every", args.progress_every, 0.0, 86_400.0)
        particles = build_model(spec)
        t_end = spec.t_end if args.t_end is None else args.t_end
        options = dict(t_end=t_end, softening=kpc_to_sim(preset.softening_kpc), backend=args.backend,
                       xp=array_module(args.xp), energy_tolerance=preset.energy_tolerance,
                       model_name=f"{args.kind}-{args.preset}-seed{args.seed}")
        if args.quiet or args.json or args.progress_every == 0:
            result = evolve(particles, **options)
        else:
            result = evolve_with_progress(evolve, particles, options, args.progress_every)
    except GcsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    s = result.stats
    report = {
        "backend": s["backend"], "N": s["n"], "N_massive": s["n_massive"], "steps": s["steps"], "dt": s["dt"],
        "t_end": s["t"], "wall_s": round(s["wall_s"], 3), "max_rel_energy_error": s["max_rel_energy_error"],
        "final_centre_kpc": [sim_to_kpc(c) for c in s["final_centre"]],
    }
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
