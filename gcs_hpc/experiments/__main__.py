"""``python -m gcs_hpc.experiments``: run the paper's experiments and write the results report.

    python -m gcs_hpc.experiments run DL1 --scale laptop       # one experiment
    python -m gcs_hpc.experiments run all --scale laptop       # every file in configs/experiments/
    python -m gcs_hpc.experiments report                       # docs/results.md and docs/figures/*.png
    python -m gcs_hpc.experiments list                         # the experiments and their stores
    python -m gcs_hpc.experiments probe --preset paper         # time one paper-preset model (compute)
    python -m gcs_hpc.experiments workstation all              # ~2000 relaxed models, curves, SLUGGS

Exit status: 0 done, 2 bad input (nothing run), 1 a stage failed (the message says which; rerun to
resume: finished stores and nets are reused). Everything written is the user's alone (``--umask``, default
077, as the campaign, train, evaluate and observe CLIs).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from gcs_hpc.backends import GRAVITY_BACKENDS
from gcs_hpc.cli import with_help_defaults
from gcs_hpc.errors import GcsError
from gcs_hpc.experiments.spec import SCALES
from gcs_hpc.fileperm import DEFAULT_UMASK, add_umask_option, umask

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="python -m gcs_hpc.experiments", description=__doc__.split("\n")[0],
                                epilog=__doc__.split("\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run experiments (campaign, training, evaluation, classic estimators)")
    r.add_argument("names", nargs="+", metavar="NAME", help="experiment names (configs/experiments/) or "
                                                            "'all'")
    r.add_argument("--scale", required=True, choices=SCALES, help="sizes to run at (test, laptop, paper)")
    r.add_argument("--runs", default="runs", help="folder for stores, nets and results (default ./runs)")
    add_umask_option(r, "stores, checkpoints, nets, results")
    rep = sub.add_parser("report", help="write the results report from a runs folder")
    rep.add_argument("--scale", default="laptop", choices=SCALES, help="sizes whose results to report")
    rep.add_argument("--runs", default="runs", help="folder the runs wrote")
    rep.add_argument("--out", default="docs/results.md", help="Markdown report (figures go beside it)")
    add_umask_option(rep, "the report and its figures")
    pr = sub.add_parser("probe", help="time one model of a preset (build + a few N-body steps) for the "
                                      "report's paper-scale compute estimate")
    pr.add_argument("--preset", default="paper", choices=("tiny", "quick", "paper"), help="resolution preset")
    pr.add_argument("--kind", default="disk", choices=("disk", "merger"), help="model kind")
    pr.add_argument("--t-probe", type=float, default=0.03, help="simulated time to run (simulation units)")
    pr.add_argument("--backend", default="tree", choices=tuple(GRAVITY_BACKENDS), help="N-body backend")
    pr.add_argument("--runs", default="runs", help="folder for the probe's result")
    add_umask_option(pr, "the probe's result")
    ws = sub.add_parser("workstation", help="the workstation scale (issue 16): relaxed campaigns, learning "
                                            "curves, SLUGGS, resolution check, its section of the report")
    ws.add_argument("stage", choices=("campaign", "analyse", "report", "all"))
    ws.add_argument("--runs", default="runs", help="folder for stores, nets and results")
    ws.add_argument("--no-quick", action="store_true", help="campaign: skip the quick-preset twin store")
    ws.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 500, 1000, 2000],
                    help="training galaxies of the learning curve (the whole pool is added)")
    ws.add_argument("--members", type=int, default=3, help="nets per ensemble")
    ws.add_argument("--steps", type=int, default=3000, help="optimiser steps per net")
    ws.add_argument("--views", type=int, default=4, help="held-out views per galaxy")
    ws.add_argument("--table-members", type=int, help="nets per ensemble of the Tables 2/3 analogues "
                                                      "(default --members)")
    ws.add_argument("--table-steps", type=int, help="optimiser steps per net of the Tables 2/3 analogues "
                                                    "(default --steps)")
    ws.add_argument("--no-tables", action="store_true", help="analyse: skip the Tables 2/3 analogues")
    ws.add_argument("--train-views", type=int, help="observation-model views per training galaxy")
    ws.add_argument("--max-models", type=int, help="use at most this many done models")
    ws.add_argument("--observation", help="observation model: a YAML file or a shipped name (sluggs, ideal); "
                                          "none given: sluggs")
    ws.add_argument("--data", default="../shared/data", help="folder of the SLUGGS files")
    ws.add_argument("--out", default="docs/results.md", help="Markdown report")
    add_umask_option(ws, "stores, checkpoints, nets, analysis, report")
    ls = sub.add_parser("list", help="list the experiments and the store each uses")
    ls.add_argument("--scale", default="laptop", choices=SCALES, help="sizes to list")
    return with_help_defaults(p)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        # Stores, checkpoints, nets and reports are the user's alone unless --umask says otherwise (checked
        # before anything runs); the umask before the call is restored on return.
        with umask(getattr(args, "umask", DEFAULT_UMASK), "the experiments CLI"):
            return _dispatch(args)
    except GcsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT if "config" in type(exc).__name__.lower() else EXIT_FAILED
    except KeyboardInterrupt:  # Ctrl-C: the stores keep every model done; nothing to clean up
        print("interrupted: every model done so far is in its store; rerun the same command to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def _dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command (errors propagate to :func:`main`)."""
    if args.command == "list":
        from gcs_hpc.experiments.spec import check_shared_stores, load_experiments

        specs = load_experiments("all")
        check_shared_stores(specs, args.scale)
        for s in specs:
            z = s.scale(args.scale)
            print(f"{s.name:12s} store {s.campaign:22s} {s.net} channels {list(s.channels)} splits "
                  f"{list(s.splits)} noise {s.noise_kms:g} km/s | {args.scale}: {z.n_models} models x "
                  f"{z.n_angles} angles, {z.preset}, {z.epochs} epochs")
        return EXIT_OK
    if args.command == "probe":
        import json

        from gcs_hpc.experiments.compute import PROBE_FILE, probe_model_cost

        result = probe_model_cost(args.preset, args.kind, args.t_probe, args.backend)
        path = Path(args.runs) / PROBE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        old = json.loads(path.read_text()) if path.is_file() else []
        old = [p for p in (old if isinstance(old, list) else [old])
               if (p["preset"], p["kind"]) != (args.preset, args.kind)]
        path.write_text(json.dumps(old + [result], indent=1))
        print(json.dumps(result))
        return EXIT_OK
    if args.command == "workstation":
        from gcs_hpc.experiments.workstation import main_stage

        main_stage(args, log=lambda m: print(m, flush=True))
        return EXIT_OK
    if args.command == "report":
        from gcs_hpc.experiments.report import write_report

        path = write_report(Path(args.runs), args.scale, Path(args.out))
        print(f"report: {path}")
        return EXIT_OK
    from gcs_hpc.experiments.runner import run
    from gcs_hpc.experiments.spec import load_experiments

    names = "all" if args.names == ["all"] else args.names
    for spec in load_experiments(names):  # bad names or files: exit 2 before anything runs
        spec.scale(args.scale)
    t0 = time.perf_counter()
    results = run(names, args.scale, Path(args.runs), log=lambda m: print(m, flush=True))
    print(f"{len(results)} experiment(s) done in {time.perf_counter() - t0:.0f} s; results under "
          f"{Path(args.runs) / args.scale}; write the report with: python -m gcs_hpc.experiments report "
          f"--scale {args.scale}", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
