"""Security defaults: the dashboard listens on localhost only; the campaign creates its store (and
everything else) with the user's permissions only, whatever umask it was started with."""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import subprocess
import sys

import psutil
import pytest

from gcs_hpc.campaign.cluster import LOCAL_DEFAULT, NAMED_CLUSTERS, load_cluster_config, start_cluster
from gcs_hpc.errors import ConfigError

from .helpers import REPO, TEST_BACKEND


def _listening(port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process().net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def test_every_shipped_cluster_puts_the_dashboard_on_localhost():
    for name in NAMED_CLUSTERS:
        assert load_cluster_config(name).dashboard_address.split(":")[0] in ("localhost", "127.0.0.1"), name
    assert LOCAL_DEFAULT.dashboard_address == "localhost:8787"


@pytest.mark.parametrize("kind", ["local", "slurm"])
def test_dashboard_listens_on_loopback_only(kind, tmp_path):
    if kind == "local":
        config = dataclasses.replace(LOCAL_DEFAULT, workers=1, dashboard_address="localhost:0")
    else:  # the SLURM cluster's scheduler runs here; no worker job is submitted (scale=False)
        path = tmp_path / "c.yaml"
        path.write_text(f"kind: slurm\nworkers: 1\ndashboard_address: localhost:0\n"
                        f"security_directory: {tmp_path / 'sec'}\nslurm: {{cores: 1, memory: 1GiB}}\n")
        config = load_cluster_config(path)
    with start_cluster(config, scale=False) as cluster:
        port = cluster.scheduler.http_server.port
        addresses = _listening(port)
        assert addresses and addresses <= {"127.0.0.1", "::1"}, addresses


def test_campaign_files_are_owner_only_even_under_a_permissive_umask(tmp_path):
    store = tmp_path / "private.zarr"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "gcs_hpc.campaign", "--n-models", "2", "--config",
           str(REPO / "configs" / "models" / "micro.yaml"), "--store", str(store), "--workers", "1",
           "--backend", TEST_BACKEND]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: os.umask(0))  # started with umask 000
    assert proc.returncode == 0, proc.stdout + proc.stderr
    paths = [store, *store.rglob("*")]
    assert len(paths) > 10
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path}: {oct(path.stat().st_mode)}"
    # a umask that would leave world-writable files is refused before anything is created
    bad = subprocess.run([*cmd[:-6], "--store", str(tmp_path / "open.zarr"), "--umask", "000"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--umask = '000' leaves files the campaign creates world-writable" \
        in bad.stderr
    assert not (tmp_path / "open.zarr").exists()


@pytest.mark.parametrize("text, message", [
    ("kind: local\nsecurity: false\nlocal: {host: 0.0.0.0}\n",
     r"cluster\.local\.host = '0\.0\.0\.0' opens the dask scheduler .* to the network without TLS; allowed "
     r"without TLS: a loopback address \(127\.0\.0\.1, localhost, ::1\); for another address set security: true"),
    ("kind: local\nlocal: {host: 192.0.2.7}\n", r"cluster\.local\.host = '192\.0\.2\.7' opens the dask"),
    ("kind: local\nlocal: {interface: eth0}\n", r"cluster\.local\.interface = 'eth0' opens the dask scheduler"),
    ("kind: local\ndashboard_address: 0.0.0.0:8787\n",
     r"cluster\.dashboard_address = '0\.0\.0\.0:8787' opens the dask dashboard to the network without TLS"),
    ("kind: local\ndashboard_address: ':8787'\n", r"dashboard_address = ':8787' opens the dask dashboard to "
                                                  r"every interface"),
    ("kind: slurm\nsecurity: false\ndashboard_address: '[::]:8787'\nslurm: {cores: 1, memory: 1GiB}\n",
     r"dashboard_address = '\[::\]:8787' opens the dask dashboard"),
])
def test_network_reachable_scheduler_or_dashboard_without_tls_is_refused(tmp_path, text, message):
    path = tmp_path / "open.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_cluster_config(path)
    assert "open.yaml" in str(info.value)
    # loopback in every spelling is fine without TLS; any address is fine with TLS on
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        load_cluster_config_text(tmp_path, f"kind: local\nlocal: {{host: '{host}'}}\n"
                                           f"dashboard_address: '[{host}]:0'\n")
    assert load_cluster_config_text(tmp_path, text.replace("security: false\n", "") + "security: true\n").tls


def load_cluster_config_text(tmp_path, text):
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    return load_cluster_config(path)


def test_campaign_log_prints_the_addresses_really_bound(tmp_path):
    """With TLS on, a scheduler on 0.0.0.0 is allowed: the log says 0.0.0.0 (what was bound), not the
    127.0.0.1 or contact address a client happens to use; the dashboard line names its socket's address."""
    from gcs_hpc.campaign.farm import run_farm

    from .helpers import tiny_plan

    config = dataclasses.replace(LOCAL_DEFAULT, workers=1, security=True, dashboard_address="127.0.0.1:0",
                                 local={**LOCAL_DEFAULT.local, "host": "0.0.0.0"})
    lines: list[str] = []
    report = run_farm(tiny_plan(1), tmp_path / "unused.zarr", config, [], max_failures=None, log=lines.append)
    assert report.finished == []
    scheduler = next(line for line in lines if line.startswith("dask scheduler:"))
    assert re.match(r"dask scheduler: listening on tls://0\.0\.0\.0:\d+ \(local cluster", scheduler), lines
    dashboard = next(line for line in lines if line.startswith("dask dashboard:"))
    assert re.match(r"dask dashboard: listening on 127\.0\.0\.1:(\d+) \(https?://127\.0\.0\.1:\1/status\)",
                    dashboard), lines
