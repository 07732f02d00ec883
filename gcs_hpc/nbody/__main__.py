"""Command line: run one model and print its run statistics.

``python -m gcs_hpc.nbody --kind disk|merger --preset quick --seed N --t-end T --backend NAME --json``
builds the model with :func:`gcs_hpc.galaxy.build_model` (default galaxy and merger orbit of
:mod:`gcs_hpc.specs`), evolves it with :func:`gcs_hpc.nbody.evolve`, and prints backend, N, steps, wall
seconds, max |dE/E| and the final stellar density centre (kpc). Exit status 1 with the message on a
:class:`gcs_hpc.errors.GcsError` (bad input, failed run).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

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
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")
    return with_help_defaults(parser)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from gcs_hpc.config import check_choice
        from gcs_hpc.galaxy import build_model
        from gcs_hpc.nbody import evolve
        from gcs_hpc.xp import array_module

        check_choice("nbody", "backend", args.backend, BACKEND_CHOICES)
        preset = get_preset(args.preset)
        spec = ModelSpec(kind=args.kind, galaxy=GalaxySpec(), preset=preset, seed=args.seed,
                         merger=MergerSpec() if args.kind == "merger" else None)
        particles = build_model(spec)
        t_end = spec.t_end if args.t_end is None else args.t_end
        result = evolve(particles, t_end=t_end, softening=kpc_to_sim(preset.softening_kpc),
                        backend=args.backend,
                        xp=array_module(args.xp), energy_tolerance=preset.energy_tolerance,
                        model_name=f"{args.kind}-{args.preset}-seed{args.seed}")
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
