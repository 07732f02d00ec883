"""Cluster files: the shipped ones load, bad ones fail before anything starts, job scripts carry the keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from gcs_hpc.campaign.cluster import (LOCAL_DEFAULT, NAMED_CLUSTERS, load_cluster_config, start_cluster,
                                      with_overrides)
from gcs_hpc.errors import ConfigError


def test_named_clusters_load_and_local_is_the_embedded_default():
    configs = {name: load_cluster_config(name) for name in NAMED_CLUSTERS}
    assert configs["local"] == LOCAL_DEFAULT
    assert configs["local"].local == {"threads_per_worker": 1, "processes": True}
    gpu = configs["slurm-gpu"]
    assert gpu.backend == "cuda" and gpu.xp_name == "cupy" and gpu.resources == {"GPU": 1.0}
    assert "--gres=gpu:1" in gpu.slurm["job_extra_directives"]
    for name in ("slurm", "slurm-gpu"):
        args = configs[name].slurm["worker_extra_args"]
        assert "--lifetime" in args and "--lifetime-stagger" in args


def test_overrides_from_the_command_line():
    cfg = with_overrides(load_cluster_config("slurm"), workers=3, backend="direct")
    assert cfg.n_workers == 3 and cfg.adapt is None and cfg.backend == "direct"
    assert LOCAL_DEFAULT.n_workers >= 1


@pytest.mark.parametrize("text, message", [
    ("kind: pbs\n", r"cluster\.kind = 'pbs' is not allowed; allowed values: 'local', 'slurm'"),
    ("kind: local\nworkers: 0\n", r"cluster\.workers = 0 is out of range; allowed range \[1, "),
    ("kind: local\nbackend: gpu\n", r"cluster\.backend = 'gpu' is not allowed"),
    ("kind: slurm\nslurm: {cores: 2}\n", r"needs 'cores' .* and 'memory'"),
    ("kind: slurm\nslurm: {cores: 2, memory: 4GiB, walltme: '01:00:00'}\n",
     r"unknown key 'cluster\.slurm\.walltme'; allowed keys: .*walltime"),
    ("kind: slurm\nslurm: {cores: 2, memory: 4GiB, processes: 3}\n",
     r"cluster\.slurm\.processes = 3 is out of range; allowed range \[1, 2\]"),
    ("kind: slurm\nslurm: {cores: 2, memory: 4GiB, job_extra_directives: --gres=gpu:1}\n",
     r"job_extra_directives = '--gres=gpu:1' must be a list of strings"),
    ("kind: local\nadapt: {minimum: 0, maximum: 4}\n", r"adapt is allowed only for kind 'slurm'"),
    ("kind: slurm\nadapt: {minimum: 5, maximum: 2}\nslurm: {cores: 1, memory: 1GiB}\n",
     r"adapt\.maximum = 2 is out of range; allowed range \[5, "),
    ("kind: local\nresources: {GPU: -1}\n", r"cluster\.resources\.GPU = -1\.0 is out of range"),
    ("colour: red\n", r"unknown key 'cluster\.colour'"),
])
def test_bad_cluster_file_names_file_key_and_allowed_values(tmp_path, text, message):
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_cluster_config(path)
    assert "site.yaml" in str(info.value)


def test_unknown_cluster_name_or_missing_file():
    with pytest.raises(ConfigError, match="neither a named cluster nor a YAML file; allowed: local, slurm"):
        load_cluster_config("slurmm")
    with pytest.raises(ConfigError, match="does not exist"):
        load_cluster_config("/nonexistent/cluster.yaml")


def test_slurm_job_script_carries_the_cluster_file(tmp_path):
    """The sbatch script dask-jobqueue would submit (scale 0: nothing is submitted)."""
    text = ("kind: slurm\nworkers: 1\nresources: {GPU: 1}\nbackend: cuda\n"
            f"dashboard_address: 127.0.0.1:0\nsecurity_directory: {tmp_path / 'sec'}\n"
            "slurm:\n  cores: 4\n  processes: 1\n  memory: 8GiB\n  walltime: '01:00:00'\n"
            "  queue: gpu\n  account: proj42\n  job_extra_directives: ['--gres=gpu:1']\n"
            "  worker_extra_args: ['--lifetime', '55m', '--lifetime-stagger', '4m']\n")
    path = tmp_path / "gpu.yaml"
    path.write_text(text)
    config = with_overrides(load_cluster_config(path), workers=None)
    import dataclasses

    config = dataclasses.replace(config, workers=None, adapt=None)
    with start_cluster(dataclasses.replace(config, workers=1), log_directory=tmp_path / "logs",
                       scale=False) as cluster:
        script = cluster.job_script()
    for expected in ("#SBATCH -p gpu", "#SBATCH -A proj42", "#SBATCH -t 01:00:00", "#SBATCH --gres=gpu:1",
                     "--lifetime 55m", "--lifetime-stagger 4m", "--resources GPU=1",
                     "export NUMBA_NUM_THREADS=1", "--nthreads 4", str(tmp_path / "logs")):
        assert expected in script, expected


def test_tls_scheduler_refuses_a_client_without_the_campaign_credentials():
    """A TLS cluster: its own workers connect, a client without credentials is refused."""
    import dataclasses

    from distributed import Client

    config = dataclasses.replace(LOCAL_DEFAULT, workers=1, security=True, dashboard_address="127.0.0.1:0")
    assert config.tls and not LOCAL_DEFAULT.tls and load_cluster_config("slurm").tls
    with start_cluster(config) as cluster:
        assert cluster.scheduler_address.startswith("tls://")
        with Client(cluster) as client:  # the campaign's client carries the cluster's credentials
            client.wait_for_workers(1, timeout=60)
            assert client.submit(sum, [1, 2]).result(timeout=60) == 3
        from distributed.security import Security

        # someone else's credentials (another CA): the TLS handshake fails
        with pytest.raises((OSError, TimeoutError)):
            Client(cluster.scheduler_address, security=Security.temporary(), timeout=3)
        # no credentials, plain TCP: the scheduler drops the connection
        with pytest.raises((OSError, TimeoutError)):
            Client(cluster.scheduler_address.replace("tls://", "tcp://"), timeout=3)


def test_slurm_tls_credentials_are_owner_only(tmp_path):
    import stat

    path = tmp_path / "tls.yaml"
    path.write_text(f"kind: slurm\nworkers: 1\ndashboard_address: 127.0.0.1:0\n"
                    f"security_directory: {tmp_path / 'sec'}\nslurm: {{cores: 1, memory: 1GiB}}\n")
    config = load_cluster_config(path)
    with start_cluster(config, scale=False) as cluster:
        script = cluster.job_script()
        assert cluster.scheduler_address.startswith("tls://")
        files = list((tmp_path / "sec").iterdir())
        assert files and all(str(f) in script for f in files)
        assert stat.S_IMODE((tmp_path / "sec").stat().st_mode) == 0o700
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert "--tls-ca-file" in script
