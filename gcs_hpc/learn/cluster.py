"""The multi-worker cluster of a training run: from the SLURM step environment, or from ``TF_CONFIG``.

``tf.distribute.cluster_resolver.SlurmClusterResolver`` fails on CPU-only nodes (it insists on counting
GPUs, tensorflow#56894), so we build the ``TF_CONFIG`` of ``MultiWorkerMirroredStrategy`` ourselves from
what ``srun`` puts in every task's environment: ``SLURM_PROCID`` (this task), ``SLURM_NTASKS``,
``SLURM_STEP_NODELIST`` (expanded with ``scontrol show hostnames``) and ``SLURM_STEP_TASKS_PER_NODE``.
Tasks are laid out block-wise over the nodes (srun's default); the task with local rank ``r`` on its
node listens on ``port_base + r``. The base port is ``GCS_HPC_TRAIN_PORT`` when set, otherwise derived
from ``SLURM_JOB_ID`` so that two jobs sharing a node do not collide.

No TensorFlow import here: this module only computes and writes the spec.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Mapping

from gcs_hpc.errors import ConfigError

#: Environment variable that fixes the base port of the workers.
PORT_ENV = "GCS_HPC_TRAIN_PORT"
#: Lowest port a derived base port can take, and how many jobs get distinct ports before wrapping.
PORT_FLOOR = 20000
PORT_SLOTS = 2500
#: Ports reserved per node and job (the most tasks per node a derived base port allows).
PORTS_PER_NODE = 16


@dataclass(frozen=True)
class WorkerCluster:
    """The workers of one training run and which of them this process is.

    Attributes
    ----------
    workers
        ``host:port`` of every worker, in task order; worker 0 is the chief.
    task_index
        Index of this process in ``workers``.
    """

    workers: tuple[str, ...]
    task_index: int = 0

    def __post_init__(self) -> None:
        if not self.workers:
            raise ConfigError("cluster.workers is empty; allowed: one or more 'host:port' entries")
        for w in self.workers:
            if not re.fullmatch(r"[^\s:]+:\d{1,5}", w):
                raise ConfigError(f"cluster.workers entry {w!r} is not 'host:port'")
        if not 0 <= self.task_index < len(self.workers):
            raise ConfigError(f"cluster.task_index = {self.task_index} is out of range; "
                              f"allowed range [0, {len(self.workers) - 1}]")

    @property
    def n_workers(self) -> int:
        """Number of workers."""
        return len(self.workers)

    @property
    def is_chief(self) -> bool:
        """Whether this process is worker 0, the one that writes checkpoints and the final model."""
        return self.task_index == 0

    def tf_config(self) -> dict:
        """The ``TF_CONFIG`` mapping ``MultiWorkerMirroredStrategy`` reads."""
        return {"cluster": {"worker": list(self.workers)},
                "task": {"type": "worker", "index": self.task_index}}

    def activate(self, env: dict[str, str] | None = None) -> None:
        """Write ``TF_CONFIG`` into ``env`` (default ``os.environ``) when there is more than one worker."""
        env = os.environ if env is None else env
        if self.n_workers > 1:
            env["TF_CONFIG"] = json.dumps(self.tf_config())


def _expand_hostlist_python(nodelist: str) -> list[str]:
    """Expand a SLURM hostlist such as ``node[01-03,7],gpu5`` without scontrol (one bracket group)."""
    hosts: list[str] = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?[^,]*", nodelist):
        m = re.fullmatch(r"([^\[]*)\[([^\]]*)\](.*)", part)
        if not m:
            hosts.append(part)
            continue
        prefix, ranges, suffix = m.groups()
        for r in ranges.split(","):
            lo, _, hi = r.partition("-")
            hi = hi or lo
            width = len(lo)
            for i in range(int(lo), int(hi) + 1):
                hosts.append(f"{prefix}{i:0{width}d}{suffix}")
    return hosts


def expand_hostlist(nodelist: str) -> list[str]:
    """Host names of a SLURM node list, with ``scontrol show hostnames`` (a Python parser without it)."""
    if not nodelist.strip():
        raise ConfigError("SLURM_STEP_NODELIST is empty; expected a SLURM node list such as 'node[01-04]'")
    if shutil.which("scontrol"):
        proc = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True,
                              text=True, timeout=30)
        if proc.returncode == 0 and proc.stdout.split():
            return proc.stdout.split()
    return _expand_hostlist_python(nodelist)


def parse_tasks_per_node(text: str) -> list[int]:
    """Expand ``SLURM_STEP_TASKS_PER_NODE`` (e.g. ``"2(x3),1"``) to one count per node."""
    counts: list[int] = []
    for item in text.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:\(x(\d+)\))?\s*", item)
        if not m:
            raise ConfigError(f"SLURM_STEP_TASKS_PER_NODE = {text!r} is malformed; expected e.g. '2(x3),1'")
        counts += [int(m.group(1))] * int(m.group(2) or 1)
    return counts


def _int_env(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except (KeyError, ValueError):
        raise ConfigError(f"{name} = {env.get(name)!r} is not an integer (is this an srun step?)") from None


def base_port(env: Mapping[str, str]) -> int:
    """Base port: ``GCS_HPC_TRAIN_PORT`` if set, else derived from ``SLURM_JOB_ID`` (else PORT_FLOOR)."""
    if PORT_ENV in env:
        port = _int_env(env, PORT_ENV)
        if not 1024 <= port <= 65000:
            raise ConfigError(f"{PORT_ENV} = {port} is out of range; allowed range [1024, 65000]")
        return port
    job = int(env.get("SLURM_JOB_ID", "0") or 0)
    return PORT_FLOOR + (job % PORT_SLOTS) * PORTS_PER_NODE


def cluster_from_slurm(env: Mapping[str, str]) -> WorkerCluster:
    """The cluster of the current srun step (one worker per task), from the SLURM step environment."""
    n_tasks = _int_env(env, "SLURM_NTASKS")
    proc_id = _int_env(env, "SLURM_PROCID")
    hosts = expand_hostlist(env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST", ""))
    per_node = parse_tasks_per_node(env.get("SLURM_STEP_TASKS_PER_NODE")
                                    or env.get("SLURM_TASKS_PER_NODE") or f"1(x{len(hosts)})")
    if len(per_node) != len(hosts) or sum(per_node) != n_tasks:
        raise ConfigError(f"SLURM step layout is inconsistent: {len(hosts)} hosts {hosts}, tasks per node "
                          f"{per_node}, SLURM_NTASKS = {n_tasks}")
    port = base_port(env)
    if PORT_ENV not in env and max(per_node) > PORTS_PER_NODE:
        raise ConfigError(f"{max(per_node)} tasks on one node exceed the {PORTS_PER_NODE} derived ports; "
                          f"set {PORT_ENV}")
    workers = [f"{host}:{port + r}" for host, k in zip(hosts, per_node) for r in range(k)]
    return WorkerCluster(tuple(workers), proc_id)


def cluster_from_tf_config(text: str) -> WorkerCluster:
    """The cluster described by a ``TF_CONFIG`` JSON string (workers only; no parameter servers)."""
    try:
        cfg = json.loads(text)
        workers = tuple(cfg["cluster"].get("chief", []) + cfg["cluster"]["worker"])
        task = cfg["task"]
        offset = 0 if task["type"] == "chief" else len(cfg["cluster"].get("chief", []))
        return WorkerCluster(workers, offset + int(task["index"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"TF_CONFIG = {text!r} is not a valid worker cluster spec ({exc})") from None


def resolve_cluster(env: Mapping[str, str] | None = None) -> WorkerCluster:
    """This process's cluster: ``TF_CONFIG`` if set, else the srun step if it has several tasks, else one
    local worker."""
    env = os.environ if env is None else env
    if env.get("TF_CONFIG"):
        return cluster_from_tf_config(env["TF_CONFIG"])
    if "SLURM_STEP_ID" in env and int(env.get("SLURM_NTASKS", "1") or 1) > 1:
        return cluster_from_slurm(env)
    return WorkerCluster(("localhost:0",), 0)
