"""Where a campaign runs: cluster configs (``configs/cluster/*.yaml``) and the dask clusters they start.

A cluster file has a few gcs_hpc keys on top and, under ``local:`` or ``slurm:``, the keyword arguments
of :class:`distributed.LocalCluster` or :class:`dask_jobqueue.SLURMCluster` in their own names
(``cores``, ``memory``, ``walltime``, ``queue``, ``account``, ``job_extra_directives``,
``worker_extra_args`` ...). Everything is validated before any job is submitted. ``local`` is embedded
(:data:`LOCAL_DEFAULT`); ``slurm`` and ``slurm-gpu`` are read from ``configs/cluster/``.

Only this module (with :mod:`gcs_hpc.campaign.farm`) knows about dask and dask-jobqueue.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping

from gcs_hpc.backends import BACKEND_CHOICES, worker_array_module
from gcs_hpc.campaign.network import check_network_exposure
from gcs_hpc.config import check_choice, check_range, load_yaml, spec_from_mapping
from gcs_hpc.errors import ConfigError
from gcs_hpc.shipped import shipped_config_dir

CLUSTER_KINDS = ("local", "slurm")
NBODY_BACKENDS = BACKEND_CHOICES  # gcs_hpc.backends: the one list of gravity backends
NAMED_CLUSTERS = ("local", "slurm", "slurm-gpu")
CONFIG_DIR = shipped_config_dir("cluster")  # configs/cluster, installed as package data

#: LocalCluster keywords a cluster file may set under ``local:``.
LOCAL_KEYS = ("threads_per_worker", "processes", "memory_limit", "local_directory", "silence_logs", "host",
              "protocol", "interface", "lifetime", "lifetime_stagger", "lifetime_restart")
#: SLURMCluster (dask-jobqueue 0.9) keywords a cluster file may set under ``slurm:``.
SLURM_KEYS = ("cores", "memory", "processes", "walltime", "queue", "account", "project", "job_cpu", "job_mem",
              "job_extra_directives", "job_directives_skip", "job_script_prologue", "worker_extra_args",
              "worker_command", "interface", "protocol", "death_timeout", "local_directory", "log_directory",
              "shebang", "python", "job_name", "name", "nanny", "scheduler_options", "shared_temp_directory",
              "silence_logs")


@dataclass(frozen=True)
class AdaptSpec:
    """Adaptive scaling of worker processes between ``minimum`` and ``maximum``."""

    minimum: int = 0
    maximum: int = 10

    def __post_init__(self) -> None:
        check_range("adapt", "minimum", self.minimum, 0, 100_000)
        check_range("adapt", "maximum", self.maximum, max(1, self.minimum), 100_000)


@dataclass(frozen=True)
class ClusterConfig:
    """A validated cluster file.

    Attributes
    ----------
    kind
        ``local`` (LocalCluster on this machine) or ``slurm`` (SLURMCluster: worker jobs via sbatch).
    workers
        Worker processes to start (``None``: this machine's cores for ``local``, 2 for ``slurm``).
    adapt
        Adaptive scaling instead of a fixed number of workers (slurm only).
    backend
        N-body backend the workers run: ``auto``, ``direct``, ``compiled``, ``tree`` or ``cuda`` (CuPy,
        GPU workers); see :func:`gcs_hpc.nbody.evolve`.
    resources
        Abstract resources every worker advertises and every model task asks for, e.g. ``{GPU: 1}``.
    dashboard_address
        Where the dask dashboard listens (localhost by default). Without TLS only a loopback address is
        allowed (:func:`gcs_hpc.campaign.network.check_network_exposure`), as for ``local.host``.
    retries
        Times a model whose task raised (not a physics failure) is retried before it counts as failed.
    checkpoint_every_s
        Wall seconds between checkpoints of each model's N-body run (``null``: none). A model cut off by
        a worker's end (``--lifetime``, walltime, a kill) resumes from its last checkpoint, so keep this
        well below the worker lifetime. Checkpoints go beside the store (``<store>.checkpoints/``).
    security
        TLS between scheduler, workers and client with credentials made for this campaign. ``None``
        (default): on for slurm (anyone who can reach an unauthenticated scheduler can run code on it),
        off for the local default (workers on localhost); ``false`` turns it off. The SLURM workers'
        copies of the credentials are written with owner-only permissions into ``security_directory``.
    security_directory
        Folder on the filesystem shared with the compute nodes for the workers' credentials.
    local, slurm
        Keyword arguments of LocalCluster / SLURMCluster, in their own names.
    """

    kind: Literal["local", "slurm"] = "local"
    workers: int | None = None
    adapt: AdaptSpec | None = None
    backend: str = "auto"
    resources: dict[str, float] = field(default_factory=dict, hash=False)
    dashboard_address: str = "localhost:8787"
    retries: int = 2
    checkpoint_every_s: float | None = 600.0
    security: bool | None = None
    security_directory: str = "~/.gcs_hpc/security"
    local: dict[str, Any] = field(default_factory=dict, hash=False)
    slurm: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_choice("cluster", "kind", self.kind, CLUSTER_KINDS)
        check_choice("cluster", "backend", self.backend, NBODY_BACKENDS)
        if self.workers is not None:
            check_range("cluster", "workers", self.workers, 1, 100_000)
        check_range("cluster", "retries", self.retries, 0, 100)
        if self.checkpoint_every_s is not None:
            check_range("cluster", "checkpoint_every_s", self.checkpoint_every_s, 0.0, 1e7, low_open=True)
        for name, amount in self.resources.items():
            check_range("cluster.resources", name, amount, 0.0, 1e6, low_open=True)
        _check_keys("local", self.local, LOCAL_KEYS)
        _check_keys("slurm", self.slurm, SLURM_KEYS)
        if self.kind == "local" and self.slurm:
            raise ConfigError("cluster.slurm is set but cluster.kind = 'local'; allowed: kind 'slurm'")
        if self.kind == "local" and self.adapt is not None:
            raise ConfigError("cluster.adapt is allowed only for kind 'slurm'")
        if self.kind == "slurm":
            if "cores" not in self.slurm or "memory" not in self.slurm:
                raise ConfigError("cluster.slurm needs 'cores' (per job) and 'memory' (per job, e.g. '4GiB')")
            check_range("cluster.slurm", "cores", self.slurm["cores"], 1, 100_000)
            if not isinstance(self.slurm["memory"], str):
                raise ConfigError(f"cluster.slurm.memory = {self.slurm['memory']!r} must be a string "
                                  "like '4GiB'")
            processes = self.slurm.get("processes", 1)
            check_range("cluster.slurm", "processes", processes, 1, self.slurm["cores"])
            for key in ("job_extra_directives", "worker_extra_args", "job_script_prologue",
                        "job_directives_skip"):
                value = self.slurm.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"cluster.slurm.{key} = {value!r} must be a list of strings")
        check_network_exposure(self.kind, self.tls, self.dashboard_address, self.local)

    @property
    def n_workers(self) -> int:
        """Worker processes to start (fixed scaling)."""
        if self.workers is not None:
            return self.workers
        return available_cores() if self.kind == "local" else 2

    @property
    def planned_threads(self) -> int:
        """Worker threads the cluster is meant to have (adaptive: at its maximum)."""
        if self.kind == "local":
            return self.n_workers * int(self.local.get("threads_per_worker", 1))
        processes = int(self.slurm.get("processes", 1))
        workers = self.adapt.maximum if self.adapt is not None else self.n_workers
        return workers * max(1, int(self.slurm["cores"]) // processes)

    @property
    def tls(self) -> bool:
        """Whether the farm talks TLS with campaign-made credentials."""
        return self.security if self.security is not None else self.kind == "slurm"

    @property
    def xp_name(self) -> str:
        """The array module the workers use: ``cupy`` for GPU-only backends (cuda), else ``numpy``."""
        return worker_array_module(self.backend)


def available_cores() -> int:
    """Cores this process may use: the job's allocation inside SLURM, else the CPU affinity set."""
    if os.environ.get("SLURM_JOB_ID") and os.environ.get("SLURM_CPUS_ON_NODE", "").isdigit():
        return max(1, int(os.environ["SLURM_CPUS_ON_NODE"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _check_keys(section: str, values: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown key 'cluster.{section}.{unknown[0]}'; allowed keys: {', '.join(allowed)}")


#: The embedded default: this machine's cores, one thread per worker process, NumPy backend.
LOCAL_DEFAULT = ClusterConfig(kind="local", security=False,
                              local={"threads_per_worker": 1, "processes": True})


def load_cluster_config(name_or_path: str | Path = "local") -> ClusterConfig:
    """Read a cluster config: ``local`` (embedded), ``slurm``, ``slurm-gpu`` (configs/cluster/) or a path.

    Raises
    ------
    ConfigError
        Unknown name, missing file, unknown key or out-of-range value (naming the file and key).
    """
    text = str(name_or_path)
    if text in NAMED_CLUSTERS:
        path = CONFIG_DIR / f"{text}.yaml"
        if not path.is_file():
            if text == "local":
                return LOCAL_DEFAULT
            raise ConfigError(f"cluster {text!r} is read from {path}, which does not exist; "
                              "pass the path of a cluster YAML file instead")
    else:
        path = Path(text)
        if path.suffix not in (".yaml", ".yml"):
            raise ConfigError(f"--cluster = {text!r} is neither a named cluster nor a YAML file; allowed: "
                              f"{', '.join(NAMED_CLUSTERS)} or a path ending in .yaml")
    try:
        return spec_from_mapping(ClusterConfig, load_yaml(path), where="cluster")
    except ConfigError as exc:
        raise ConfigError(f"cluster file {str(path)!r}: {exc}") from None


def with_overrides(config: ClusterConfig, *, workers: int | None = None,
                   backend: str | None = None) -> ClusterConfig:
    """Return ``config`` with command-line overrides (validated)."""
    import dataclasses

    changes: dict[str, Any] = {}
    if workers is not None:
        changes["workers"] = workers
        changes["adapt"] = None
    if backend is not None:
        changes["backend"] = backend
    return dataclasses.replace(config, **changes) if changes else config


def check_can_start(config: ClusterConfig) -> None:
    """Check that this machine can start ``config``'s cluster, before anything is created or submitted.

    Raises
    ------
    ConfigError
        TLS is on but ``cryptography`` (which makes the campaign's credentials) cannot be imported, or the
        cluster is of kind ``slurm`` and ``sbatch`` is not on PATH.
    """
    if config.tls:
        try:
            import cryptography  # noqa: F401  (distributed's Security.temporary makes the credentials)
        except ImportError as exc:
            raise ConfigError(f"cluster security (TLS, on for this {config.kind} cluster) needs the "
                              f"'cryptography' package, which cannot be imported here ({exc}); install it "
                              "(pip install cryptography, a dependency of gcs_hpc) or set security: false in "
                              "a cluster file on a network you trust") from None
    if config.kind == "slurm" and shutil.which("sbatch") is None:
        raise ConfigError("cluster kind 'slurm' submits its worker jobs with sbatch, which is not on PATH "
                          "here; run on a SLURM login node (or in a batch job), or use --cluster local")


def _private_directory(path: str) -> Path:
    """Create ``path`` (owner-only, 0700) and return it expanded."""
    folder = Path(os.path.expandvars(path)).expanduser()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def _log_level(level: str | int | bool) -> int | bool:
    """``"error"`` -> ``logging.ERROR`` (distributed wants the number); ``False`` keeps logs."""
    import logging

    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if not isinstance(number, int):
            raise ConfigError(f"cluster silence_logs = {level!r} is not a log level; allowed: debug, info, "
                              "warning, error, critical, or false")
        return number
    return level


def _current_umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _worker_env() -> dict[str, str]:
    # One thread per worker process: the farm parallelises over models, not inside one.
    return {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


def _resource_args(resources: Mapping[str, float]) -> list[str]:
    if not resources:
        return []
    return ["--resources", ",".join(f"{k}={v:g}" for k, v in resources.items())]


@contextlib.contextmanager
def start_cluster(config: ClusterConfig, *, log_directory: str | Path | None = None,
                  scale: bool = True) -> Iterator[Any]:
    """Start the dask cluster of ``config`` (and scale it unless ``scale`` is False); close it (cancelling
    worker jobs) on exit."""
    if config.kind == "local":
        from distributed import LocalCluster

        kwargs: dict[str, Any] = {"threads_per_worker": 1, "processes": True, "silence_logs": "error"}
        kwargs.update(config.local)
        kwargs["silence_logs"] = _log_level(kwargs["silence_logs"])
        if config.resources:
            kwargs["resources"] = dict(config.resources)
        if kwargs.get("processes", True):
            kwargs["env"] = _worker_env()
        if config.tls:
            from distributed.security import Security

            kwargs.update(security=Security.temporary(), protocol="tls://")
        cluster = LocalCluster(n_workers=config.n_workers, dashboard_address=config.dashboard_address,
                               **kwargs)
    else:
        from dask_jobqueue import SLURMCluster

        kwargs = dict(config.slurm)
        kwargs["worker_extra_args"] = list(kwargs.get("worker_extra_args", [])) + _resource_args(
            config.resources)
        if log_directory is not None and "log_directory" not in kwargs:
            kwargs["log_directory"] = str(log_directory)
        kwargs.setdefault("job_script_prologue", [])
        # the worker jobs write store chunks and checkpoints with this process's umask
        kwargs["job_script_prologue"] = [f"umask {_current_umask():03o}"] + [
            f"export {k}={v}" for k, v in _worker_env().items()] + list(kwargs["job_script_prologue"])
        kwargs["silence_logs"] = _log_level(kwargs.get("silence_logs", "error"))
        if config.tls:
            kwargs["security"] = True  # temporary TLS credentials made for this campaign
            kwargs.setdefault("shared_temp_directory", str(_private_directory(config.security_directory)))
        cluster = SLURMCluster(scheduler_options={"dashboard_address": config.dashboard_address,
                                                  **kwargs.pop("scheduler_options", {})}, **kwargs)
        if not scale:
            pass
        elif config.adapt is not None:
            cluster.adapt(minimum=config.adapt.minimum, maximum=config.adapt.maximum)
        else:
            cluster.scale(n=config.n_workers)
    try:
        yield cluster
    finally:
        cluster.close()
