"""Small readers of result files shared by the report's parts."""

from __future__ import annotations

from typing import Any


def net_result(r: dict[str, Any], split: str, channels: int) -> dict[str, Any] | None:
    """The entry of ``r['nets']`` for ``split`` and ``channels`` (None when not run)."""
    return next((n for n in r["nets"] if n["split"] == split and n["channels"] == channels), None)


def metric(r: dict[str, Any], split: str, channels: int, noise: str = "0") -> dict[str, Any] | None:
    """Metrics of one net of an experiment result at test-noise level ``noise`` (km/s, as text)."""
    n = net_result(r, split, channels)
    return None if n is None else n.get("metrics", {}).get(noise)


def f(m: dict[str, Any] | None, key: str, fmt: str = ".3f") -> str:
    """``m[key]`` formatted, or ``-``."""
    if not m or m.get(key) is None:
        return "-"
    return format(m[key], fmt)
