"""``python -m gcs_hpc.campaign``: run (or resume) a campaign of N-body models into one store.

Everything given is validated before anything is submitted. With only ``--n-models`` it runs the embedded
default: a local dask cluster on this machine's cores (one single-threaded worker process per core), the
NumPy backend, the quick preset, a store ``./gcs_campaign.zarr``. Rerunning the same command resumes: only
the models not yet done run. A store made with another config is refused, never overwritten.

This module only turns arguments into a :class:`gcs_hpc.campaign.request.CampaignRequest` and reports;
the campaign itself is the library's :func:`~gcs_hpc.campaign.request.prepare` and
:func:`~gcs_hpc.campaign.request.run`.
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
from gcs_hpc.campaign.request import open_store, prepare, run, sweep_checkpoints  # noqa: F401
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


def request_from_args(args: argparse.Namespace):
    """The :class:`~gcs_hpc.campaign.request.CampaignRequest` the arguments describe (files read and
    validated; nothing written)."""
    from gcs_hpc.campaign.cluster import load_cluster_config, with_overrides
    from gcs_hpc.campaign.config import load_campaign_config
    from gcs_hpc.campaign.request import CampaignRequest
    from gcs_hpc.config import check_range

    if args.workers is not None:
        check_range("", "--workers", args.workers, 1, 100_000)
    parse_umask(args.umask)
    config = load_campaign_config(args.config)
    overrides = {k: v for k, v in (("seed", args.seed), ("preset", args.preset)) if v is not None}
    if overrides:
        config = dataclasses.replace(config, **overrides)
    cluster = with_overrides(load_cluster_config(args.cluster), workers=args.workers, backend=args.backend)
    return CampaignRequest(store=Path(args.store), config=config, cluster=cluster, n_models=args.n_models,
                           max_failures=args.max_failures, resume=args.resume, log_dir=Path(args.log_dir),
                           progress_interval_s=args.progress_interval)


def verify_only(store: Path) -> int:
    """``--verify``: check the store's done models, set broken ones back to pending, report; exit status."""
    from gcs_hpc.store.verify import verify_store

    if not store.exists():
        raise StoreError(f"--verify: store {str(store)!r} does not exist; give the --store to check")
    report = verify_store(store)
    print(report.summary(), flush=True)
    return EXIT_OK


def _print(text: str) -> None:
    print(text, flush=True)


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
        campaign = prepare(request_from_args(args))
        config, plan, max_failures = campaign.config, campaign.plan, campaign.max_failures
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
        pending = open_store(store, plan, args.resume, log=_print)
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    from gcs_hpc.campaign.progress import Progress

    signal.signal(signal.SIGTERM, _on_sigterm)
    progress = Progress(total=plan.n_models, already_done=plan.n_models - len(pending),
                        interval_s=args.progress_interval)
    try:
        result = run(campaign, pending=pending, progress=progress, log=_print)
    except KeyboardInterrupt:
        print(f"interrupted: {progress.done} models done in this run; rerun the same command to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    report, done_before = result.report, result.done_before
    if report is None:
        return EXIT_OK
    if report.resumed:
        print(f"{len(report.resumed)} models resumed from their N-body checkpoints", flush=True)
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
