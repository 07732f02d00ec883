"""The multi-worker cluster spec from a SLURM step environment and from TF_CONFIG (no TensorFlow)."""

from __future__ import annotations

import json
import shutil

import pytest

from gcs_hpc.errors import ConfigError
from gcs_hpc.learn import cluster


def slurm_env(**kw: str) -> dict[str, str]:
    env = {"SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "3", "SLURM_PROCID": "2",
           "SLURM_STEP_NODELIST": "node[07-09]", "SLURM_STEP_TASKS_PER_NODE": "1(x3)"}
    env.update(kw)
    return env


def test_slurm_step_gives_one_worker_per_task() -> None:
    c = cluster.resolve_cluster(slurm_env())
    port = cluster.PORT_FLOOR + 4242 % cluster.PORT_SLOTS * cluster.PORTS_PER_NODE
    assert c.workers == (f"node07:{port}", f"node08:{port}", f"node09:{port}")
    assert c.task_index == 2 and not c.is_chief
    cfg = c.tf_config()
    assert cfg == {"cluster": {"worker": list(c.workers)}, "task": {"type": "worker", "index": 2}}


def test_several_tasks_per_node_get_their_own_ports() -> None:
    env = slurm_env(SLURM_NTASKS="5", SLURM_PROCID="0", SLURM_STEP_NODELIST="a[1-2],b",
                    SLURM_STEP_TASKS_PER_NODE="2(x2),1", GCS_HPC_TRAIN_PORT="30000")
    assert cluster.resolve_cluster(env).workers == ("a1:30000", "a1:30001", "a2:30000", "a2:30001",
                                                   "b:30000")


def test_inconsistent_slurm_layout_is_refused() -> None:
    with pytest.raises(ConfigError, match="inconsistent"):
        cluster.cluster_from_slurm(slurm_env(SLURM_NTASKS="4"))
    with pytest.raises(ConfigError, match="SLURM_STEP_TASKS_PER_NODE"):
        cluster.parse_tasks_per_node("2(y3)")
    with pytest.raises(ConfigError, match="GCS_HPC_TRAIN_PORT"):
        cluster.base_port({"GCS_HPC_TRAIN_PORT": "80"})


def test_python_hostlist_matches_scontrol() -> None:
    nodelist = "gpu[001-003,010],login5,c[8-9]x"
    expected = ["gpu001", "gpu002", "gpu003", "gpu010", "login5", "c8x", "c9x"]
    assert cluster._expand_hostlist_python(nodelist) == expected
    if shutil.which("scontrol"):
        assert cluster.expand_hostlist(nodelist) == expected


def test_tf_config_wins_and_single_process_is_one_worker() -> None:
    tf_config = json.dumps({"cluster": {"worker": ["h1:1000", "h2:1000"]}, "task": {"type": "worker",
                                                                                   "index": 1}})
    c = cluster.resolve_cluster({"TF_CONFIG": tf_config, **slurm_env()})
    assert c.workers == ("h1:1000", "h2:1000") and c.task_index == 1
    assert cluster.resolve_cluster({}).n_workers == 1
    assert cluster.resolve_cluster(slurm_env(SLURM_NTASKS="1", SLURM_PROCID="0")).n_workers == 1
    env: dict[str, str] = {}
    c.activate(env)
    assert json.loads(env["TF_CONFIG"])["task"]["index"] == 1
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        cluster.cluster_from_tf_config('{"cluster": {}}')
