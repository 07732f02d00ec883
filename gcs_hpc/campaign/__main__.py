"""``python -m gcs_hpc.campaign``: run (or resume) a campaign of N-body models into one store.

Everything given is validated before anything is submitted. With only ``--n-models`` it runs the embedded
default: a local dask cluster on this machine's cores (one single-threaded worker process per core), the
NumPy backend, the quick preset, a store ``./gcs_campaign.zarr``. Rerunning the same command resumes: only
the models not yet done run. A store made with another config is refused, never overwritten.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import Sequence

from gcs_hpc.backends import BACKEND_CHOICES
from gcs_hpc.cli import with_help_defaults
from gcs_hpc.errors import ConfigError, StoreError
from gcs_hpc.fileperm import parse_umask  # the umask policy shared with train, evaluate, observe

DEFAULT_STORE = "gcs_campaign.zarr"
EXIT_OK, EXIT_BAD_INPUT, EXIT_TOO_MANY_FAILURES, EXIT_INTERRUPTED = 0, 2, 3, 130

EPILOG = """\
examples:
  python -m gcs_hpc.campaign --n-models 8 --preset tiny          # small local run, ./gcs_campaign.zarr
  python -m gcs_hpc.campaign --n-models 2000                      # the quick preset on this machine
  python -m gcs_hpc.campaign --n-models 2000 --cluster slurm --store /scratch/run1.zarr
  sbatch jobs/campaign.sh --n-models 2000 --cluster slurm-gpu --store /scratch/run1.zarr

exit status: 0 all models ran (failed ones are listed; their reasons are in the store's 'error'),
2 bad input (nothing submitted), 3 stopped after --max-failures failed models, 130/143 interrupted
(rerun the same command to resume).
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="python -m gcs_hpc.campaign",
        description="Run (or resume) a campaign of N-body models into one zarr store.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-models", type=int, metavar="N",
                   help="models in the campaign (default: n_models of the config)")
    p.add_argument("--config", metavar="YAML",
                   help="physics config: suites, parameter ranges, preset, seed, maps "
                        "(default: the embedded configs/models/default.yaml)")
    p.add_argument("--cluster", default="local", metavar="NAME|YAML",
                   help="where to run: local (default), slurm, slurm-gpu (configs/cluster/) or a YAML path")
    p.add_argument("--store", default=DEFAULT_STORE, metavar="PATH",
                   help=f"zarr store to fill (default ./{DEFAULT_STORE})")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: the cluster file's; local: this machine's cores)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=None,
                   help="--resume requires an existing store and runs its missing models; --no-resume "
                        "refuses an existing store (default: resume when the store exists)")
    p.add_argument("--max-failures", type=int, metavar="N",
                   help="stop after N models failed (default: max(10, n_models // 10))")
    p.add_argument("--seed", type=int, help="campaign seed (default: the config's)")
    p.add_argument("--preset", help="resolution preset: tiny, quick, paper (default: the config's)")
    p.add_argument("--backend", choices=BACKEND_CHOICES,
                   help="N-body backend of the workers (default: the cluster file's)")
    p.add_argument("--progress-interval", type=float, default=30.0, metavar="S",
                   help="seconds between progress lines when not on a terminal (default 30)")
    p.add_argument("--log-dir", default="logs", metavar="DIR",
                   help="folder for SLURM worker job logs (default ./logs)")
    p.add_argument("--umask", default="077", metavar="OCTAL",
                   help="umask for everything the campaign creates: store, checkpoints, logs (default 077: "
                        "owner-only; 027 lets your group read)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate everything and print the plan; submit nothing, write nothing")
    p.add_argument("--verify", action="store_true",
                   help="check that every done model of --store holds readable maps and counts (a deleted "
                        "or damaged chunk), set broken ones back to pending, report them and exit; rerun "
                        "to compute them again (a resume runs the same check; default: off)")
    return with_help_defaults(p)


def _check_args(args: argparse.Namespace) -> None:
    from gcs_hpc.config import check_range

    if args.n_models is not None:
        check_range("", "--n-models", args.n_models, 1, 10_000_000)
    if args.workers is not None:
        check_range("", "--workers", args.workers, 1, 100_000)
    if args.max_failures is not None:
        check_range("", "--max-failures", args.max_failures, 1, 10_000_000)
    check_range("", "--progress-interval", args.progress_interval, 0.0, 86_400.0)
    parse_umask(args.umask)


def prepare(args: argparse.Namespace):
    """Validate configs, plan the campaign and open (or create) its store; return what the farm needs."""
    from gcs_hpc.campaign.cluster import check_can_start, load_cluster_config, with_overrides
    from gcs_hpc.campaign.config import load_campaign_config
    from gcs_hpc.campaign.plan import plan_campaign

    _check_args(args)
    config = load_campaign_config(args.config)
    overrides = {k: v for k, v in (("seed", args.seed), ("preset", args.preset)) if v is not None}
    if overrides:
        config = dataclasses.replace(config, **overrides)
    cluster = with_overrides(load_cluster_config(args.cluster), workers=args.workers, backend=args.backend)
    check_can_start(cluster)  # TLS importable, sbatch on PATH: a clear error now, not a traceback later
    if cluster.backend == "cuda" and cluster.kind == "local":
        from gcs_hpc.xp import has_cupy

        if not has_cupy():
            raise ConfigError("backend = 'cuda' on a local cluster needs CuPy and a GPU, none here; "
                              "allowed on this machine: auto, direct, compiled, tree")
    plan = plan_campaign(config, args.n_models)
    max_failures = args.max_failures if args.max_failures is not None else max(10, plan.n_models // 10)
    return config, cluster, plan, max_failures


def open_store(store: Path, plan, resume: bool | None, log=print) -> list[int]:
    """Create the store or validate the existing one; return the indices still to run.

    An existing store (or empty folder) must be writable, checked before any model is computed; its done
    models are verified (:func:`gcs_hpc.store.verify.verify_store`) and broken ones (a chunk deleted or
    damaged) set back to pending, with a line on ``log``.
    """
    from gcs_hpc.store import create_store, pending_indices
    from gcs_hpc.store.verify import check_writable, verify_store

    exists = store.exists()
    if exists and resume is False:
        raise StoreError(f"store {str(store)!r} exists and --no-resume was given; choose another --store "
                         "or drop --no-resume to run its missing models (nothing is ever overwritten)")
    if not exists and resume is True:
        raise StoreError(f"--resume: store {str(store)!r} does not exist; nothing to resume")
    if exists and store.is_dir():  # checkpoints go beside the store
        check_writable(store, also=[store.parent])
    try:
        create_store(store, plan.models, plan.map_spec, plan.config_yaml)  # validates an existing store
    except OSError as exc:
        raise StoreError(f"store {str(store)!r} cannot be created ({exc.strerror or exc}); nothing was "
                         "computed. Allowed: a --store path in a folder you can write") from None
    if exists:
        report = verify_store(store)
        if report.broken:
            log(report.summary())
    return pending_indices(store)


def verify_only(store: Path) -> int:
    """``--verify``: check the store's done models, set broken ones back to pending, report; exit status."""
    from gcs_hpc.store.verify import verify_store

    if not store.exists():
        raise StoreError(f"--verify: store {str(store)!r} does not exist; give the --store to check")
    report = verify_store(store)
    print(report.summary(), flush=True)
    return EXIT_OK


def sweep_checkpoints(store: Path) -> None:
    """Remove checkpoints of finished models (left by an attempt that was still leaving a worker when the
    model's rerun finished), and the checkpoint folder when it is empty."""
    from gcs_hpc.campaign.run_model import checkpoint_directory
    from gcs_hpc.store import model_status

    folder = checkpoint_directory(store)
    if not folder.is_dir():
        return
    status = model_status(store)
    for path in folder.iterdir():
        parts = path.name.split("-")
        if len(parts) >= 3 and parts[0] == "model" and parts[1].isdigit() and int(parts[1]) < len(status) \
                and status[int(parts[1])] in ("done", "failed"):
            path.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:  # holds checkpoints of models still to finish
        pass


def _on_sigterm(signum, frame):  # SLURM sends SIGTERM at walltime, scancel and requeue
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = build_parser().parse_args(argv)
    store = Path(args.store).expanduser().resolve()
    try:
        if args.verify:
            os.umask(parse_umask(args.umask))
            return verify_only(store)
        config, cluster, plan, max_failures = prepare(args)
        # Before anything is created: store, checkpoints, logs and credentials get the user's permissions
        # only; worker processes (local) and worker jobs (sbatch propagates it) inherit it.
        os.umask(parse_umask(args.umask))
        counts = ", ".join(f"{k} {len(v)}" for k, v in plan.suite_indices().items())
        print(f"campaign {config.name!r}: {plan.n_models} models ({counts}), preset "
              f"{config.resolved_preset.name}, seed {config.seed}, {plan.map_spec.n_angles} angles",
              flush=True)
        if args.dry_run:
            print(plan.config_yaml)
            print(f"dry run: nothing submitted; store would be {store}")
            return EXIT_OK
        pending = open_store(store, plan, args.resume, log=lambda text: print(text, flush=True))
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    done_before = plan.n_models - len(pending)
    print(f"store {store}: {done_before} of {plan.n_models} models done; running {len(pending)}", flush=True)
    if not pending:
        print("nothing to run: every model is done")
        return EXIT_OK

    from gcs_hpc.campaign.farm import run_farm
    from gcs_hpc.campaign.progress import Progress

    signal.signal(signal.SIGTERM, _on_sigterm)
    progress = Progress(total=plan.n_models, already_done=done_before, interval_s=args.progress_interval)
    try:
        report = run_farm(plan, store, cluster, pending, max_failures=max_failures, progress=progress,
                          log=lambda text: print(text, flush=True),
                          log_directory=Path(args.log_dir) / "workers")
    except KeyboardInterrupt:
        progress.close()
        print(f"interrupted: {progress.done} models done in this run; rerun the same command to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    progress.close()
    print(progress.summary(), flush=True)
    if report.resumed:
        print(f"{len(report.resumed)} models resumed from their N-body checkpoints", flush=True)
    sweep_checkpoints(store)
    if report.failures:
        listed = "; ".join(f"model {i}: {r}" for i, r in sorted(report.failures.items())[:5])
        print(f"{len(report.failures)} models failed ({listed}{' ...' if len(report.failures) > 5 else ''}); "
              "each reason is in the store's 'error' coordinate", flush=True)
    if report.stopped:
        not_run = plan.n_models - done_before - report.n_done - report.n_failed
        print(f"error: stopped after {report.n_failed} failed models (--max-failures {max_failures}); "
              f"{not_run} models not run. Fix the cause (see the store's 'error') and rerun the same "
              "command to resume.", file=sys.stderr)
        return EXIT_TOO_MANY_FAILURES
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
