"""Who can reach the campaign's scheduler and dashboard: refuse an open, unauthenticated one; report the
addresses really bound.

A dask scheduler runs any function a client sends it, so a scheduler that listens beyond this machine
without TLS lets anyone on the network run code as the user. A local cluster therefore listens on
loopback only unless TLS (``security: true``) is on; the dashboard (which shows every task, worker and
log) follows the same rule. SLURM clusters listen on the network by design and have TLS on by default.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from gcs_hpc.errors import ConfigError

#: Host names that always mean this machine's loopback interface.
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def is_loopback(host: str) -> bool:
    """True when ``host`` (a name or an IP literal, IPv6 with or without brackets) is a loopback address;
    an empty host (every interface) and any other name are not."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def address_host(address: str) -> str:
    """The host part of ``host:port``, ``[v6]:port``, ``proto://host:port`` or ``:port`` (empty: every
    interface); a bare port number also means every interface."""
    text = address.split("://", 1)[-1].strip()
    if text.isdigit():
        return ""
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    if text.count(":") > 1:  # a bare IPv6 address without port
        return text
    return text.rsplit(":", 1)[0] if ":" in text else text


def check_network_exposure(kind: str, tls: bool, dashboard_address: str,
                           local: Mapping[str, Any]) -> None:
    """Refuse a scheduler or dashboard reachable from the network without TLS.

    Parameters
    ----------
    kind
        ``local`` or ``slurm`` (a SLURM scheduler must be reachable from the compute nodes; only its
        dashboard is checked here).
    tls
        Whether the cluster talks TLS with campaign-made credentials.
    dashboard_address
        The cluster file's ``dashboard_address``.
    local
        LocalCluster keywords (``host``, ``interface``).

    Raises
    ------
    ConfigError
        Naming the key, the value and what is allowed.
    """
    if tls:
        return
    fix = ("allowed without TLS: a loopback address (127.0.0.1, localhost, ::1); for another address "
           "set security: true in the cluster file")
    host = address_host(str(dashboard_address))
    if not is_loopback(host):
        raise ConfigError(f"cluster.dashboard_address = {dashboard_address!r} opens the dask dashboard to "
                          f"{'every interface' if not host else 'the network'} without TLS; {fix}")
    if kind != "local":
        return
    if "host" in local and local["host"] is not None and not is_loopback(str(local["host"])):
        raise ConfigError(f"cluster.local.host = {local['host']!r} opens the dask scheduler (which runs any "
                          f"code a client sends it) to the network without TLS; {fix}")
    interface = local.get("interface")
    if interface is not None and str(interface) not in ("lo", "lo0"):
        raise ConfigError(f"cluster.local.interface = {interface!r} opens the dask scheduler to the network "
                          "without TLS; allowed without TLS: lo (loopback); for another interface set "
                          "security: true in the cluster file")


def bound_addresses(cluster: Any, client: Any) -> tuple[str, str]:
    """Where the scheduler and the dashboard really listen: ``(scheduler, dashboard)`` as text.

    The scheduler of a LocalCluster or dask-jobqueue cluster runs in this process; its listeners and the
    dashboard's sockets say what was bound (``0.0.0.0`` included), not the contact address a client uses.
    """
    scheduler = getattr(cluster, "scheduler", None)
    listeners = getattr(scheduler, "listeners", None) or []
    listen = ", ".join(str(getattr(item, "listen_address", "")) for item in listeners
                       if getattr(item, "listen_address", "")) or str(client.scheduler.address)
    server = getattr(scheduler, "http_server", None)
    sockets = getattr(server, "_sockets", {}) if server is not None else {}
    dashboard = []
    for sock in list(sockets.values()):
        try:
            host, port = sock.getsockname()[:2]
        except OSError:
            continue
        dashboard.append(f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}")
    return listen, ", ".join(dashboard)
