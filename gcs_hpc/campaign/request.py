"""The campaign as a library: a typed :class:`CampaignRequest` -> :func:`prepare` -> :func:`run`.

>>> request = CampaignRequest(store=Path("run1.zarr"), config=load_campaign_config("my.yaml"),
...                           cluster=load_cluster_config("slurm"), n_models=2000)
>>> campaign = prepare(request)          # validated and planned; nothing written, nothing submitted
>>> result = run(campaign)               # store created or resumed, models farmed out, checkpoints swept

The command line (``python -m gcs_hpc.campaign``) only turns its arguments into a request; the experiments
build theirs from an experiment spec. The cluster is a :class:`~gcs_hpc.campaign.cluster.ClusterConfig`
object, not a file: a caller that wants a local cluster with its own dashboard port builds one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gcs_hpc.campaign.cluster import LOCAL_DEFAULT, ClusterConfig, check_can_start
from gcs_hpc.campaign.config import DEFAULT_CONFIG, CampaignConfig
from gcs_hpc.campaign.plan import CampaignPlan, plan_campaign
from gcs_hpc.config import check_range
from gcs_hpc.errors import ConfigError, StoreError

#: At least this many failed models are allowed before a campaign stops (default: a tenth of them).
MIN_MAX_FAILURES = 10


@dataclass(frozen=True)
class CampaignRequest:
    """What to run: a validated, frozen description of one campaign.

    Attributes
    ----------
    store
        The zarr store to fill (created, or resumed when it exists).
    config
        Physics config: suites, ranges, preset, seed, maps (default: the embedded default config).
    cluster
        Where to run (default: the embedded local cluster).
    n_models
        Models in the campaign (default: ``config.n_models``).
    max_failures
        Stop after this many failed models (default: ``max(10, n_models // 10)``).
    resume
        ``True``: the store must exist; ``False``: it must not; ``None``: resume when it exists.
    log_dir
        Folder for SLURM worker job logs (``<log_dir>/workers``).
    progress_interval_s
        Seconds between progress lines when not on a terminal.
    """

    store: Path
    config: CampaignConfig = DEFAULT_CONFIG
    cluster: ClusterConfig = LOCAL_DEFAULT
    n_models: int | None = None
    max_failures: int | None = None
    resume: bool | None = None
    log_dir: Path = field(default=Path("logs"))
    progress_interval_s: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "store", Path(self.store).expanduser().resolve())
        object.__setattr__(self, "log_dir", Path(self.log_dir))
        if not isinstance(self.config, CampaignConfig):
            raise ConfigError(f"campaign request: config must be a CampaignConfig, got "
                              f"{type(self.config).__name__} (read a file with load_campaign_config)")
        if not isinstance(self.cluster, ClusterConfig):
            raise ConfigError(f"campaign request: cluster must be a ClusterConfig, got "
                              f"{type(self.cluster).__name__} (read a file with load_cluster_config)")
        if self.n_models is not None:
            check_range("", "--n-models", self.n_models, 1, 10_000_000)
        if self.max_failures is not None:
            check_range("", "--max-failures", self.max_failures, 1, 10_000_000)
        if self.resume not in (None, True, False):
            raise ConfigError(f"campaign request: resume = {self.resume!r}; allowed: True, False or None")
        check_range("", "--progress-interval", self.progress_interval_s, 0.0, 86_400.0)


@dataclass(frozen=True)
class PreparedCampaign:
    """A request checked against this machine and planned: what :func:`run` executes."""

    request: CampaignRequest
    cluster: ClusterConfig
    plan: CampaignPlan
    max_failures: int

    @property
    def config(self) -> CampaignConfig:
        """The campaign's physics config."""
        return self.plan.config

    @property
    def store(self) -> Path:
        """The store path (absolute)."""
        return self.request.store


@dataclass(frozen=True)
class CampaignResult:
    """What :func:`run` did: models done before it, models it ran, and the farm's report (None when
    every model was already done)."""

    store: Path
    n_models: int
    done_before: int
    n_pending: int
    report: Any = None


def prepare(request: CampaignRequest) -> PreparedCampaign:
    """Check that ``request`` can run here and plan it; nothing is written or submitted.

    Raises
    ------
    ConfigError
        The cluster cannot start here (TLS without ``cryptography``, no ``sbatch``, cuda without a GPU)
        or the plan is invalid.
    """
    cluster = request.cluster
    check_can_start(cluster)  # TLS importable, sbatch on PATH: a clear error now, not a traceback later
    if cluster.xp_name == "cupy" and cluster.kind == "local":
        from gcs_hpc.xp import has_cupy

        if not has_cupy():
            raise ConfigError(f"backend = {cluster.backend!r} on a local cluster needs CuPy and a GPU, none "
                              "here; allowed on this machine: auto, direct, compiled, tree")
    plan = plan_campaign(request.config, request.n_models)
    max_failures = (request.max_failures if request.max_failures is not None
                    else max(MIN_MAX_FAILURES, plan.n_models // 10))
    return PreparedCampaign(request=request, cluster=cluster, plan=plan, max_failures=max_failures)


def open_store(store: Path, plan: CampaignPlan, resume: bool | None,
               log: Callable[[str], None] = print) -> list[int]:
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


def sweep_checkpoints(store: Path) -> None:
    """Remove checkpoints of finished models (left by an attempt that was still leaving a worker when the
    model's rerun finished), and the checkpoint folder when it is empty."""
    from gcs_hpc.campaign.run_model import checkpoint_directory
    from gcs_hpc.store import is_finished, model_status

    folder = checkpoint_directory(store)
    if not folder.is_dir():
        return
    status = model_status(store)
    for path in folder.iterdir():
        parts = path.name.split("-")
        if len(parts) >= 3 and parts[0] == "model" and parts[1].isdigit() and int(parts[1]) < len(status) \
                and is_finished(status[int(parts[1])]):
            path.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:  # holds checkpoints of models still to finish
        pass


def run(campaign: PreparedCampaign, *, pending: list[int] | None = None, progress: Any = None,
        log: Callable[[str], None] = print) -> CampaignResult:
    """Create or resume the store, farm the pending models out, sweep leftover checkpoints.

    Parameters
    ----------
    campaign
        From :func:`prepare`.
    pending
        Indices still to run, when the caller opened the store itself with :func:`open_store`.
    progress
        A :class:`gcs_hpc.campaign.progress.Progress` (default: one for this campaign, on stderr). On
        KeyboardInterrupt it is closed and the interrupt propagates (rerun to resume).
    log
        Where status lines go.

    Raises
    ------
    StoreError
        The store exists with another config, or cannot be created (before any model runs).
    """
    from gcs_hpc.campaign.farm import run_farm
    from gcs_hpc.campaign.progress import Progress

    request, plan = campaign.request, campaign.plan
    if pending is None:
        pending = open_store(request.store, plan, request.resume, log=log)
    done_before = plan.n_models - len(pending)
    result = CampaignResult(request.store, plan.n_models, done_before, len(pending))
    log(f"store {request.store}: {done_before} of {plan.n_models} models done; running {len(pending)}")
    if not pending:
        log("nothing to run: every model is done")
        return result
    if progress is None:
        progress = Progress(total=plan.n_models, already_done=done_before,
                            interval_s=request.progress_interval_s)
    try:
        report = run_farm(plan, request.store, campaign.cluster, pending, max_failures=campaign.max_failures,
                          progress=progress, log=log, log_directory=request.log_dir / "workers")
    finally:
        progress.close()
    log(progress.summary())
    sweep_checkpoints(request.store)
    return dataclasses.replace(result, report=report)
