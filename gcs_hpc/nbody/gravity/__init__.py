"""Gravity backends by name: ``direct`` (xp), ``compiled`` (numba direct), ``tree`` (numba Barnes-Hut),
``cuda`` (CuPy RawKernel). All use the Plummer kernel of :mod:`gcs_hpc.nbody.kernels`."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from gcs_hpc.nbody.gravity import compiled, cuda, direct, tree  # noqa: F401  (registration)
from gcs_hpc.nbody.gravity.base import REGISTRY, GravityBackend, SourceField, get_backend, register

#: Below this many particles on the CPU, ``auto`` picks the exact ``direct`` sum; above it the ``tree``.
AUTO_TREE_MIN_N = 10_000


def resolve_backend_name(name: str, n: int, xp: ModuleType = np) -> str:
    """Resolve ``"auto"``: ``cuda`` on CuPy, ``tree`` for ``n >= AUTO_TREE_MIN_N`` on the CPU, else ``direct``."""
    if name != "auto":
        return name
    if xp.__name__.split(".")[0] == "cupy":
        return "cuda"
    return "tree" if n >= AUTO_TREE_MIN_N else "direct"


__all__ = ["REGISTRY", "GravityBackend", "SourceField", "get_backend", "register", "resolve_backend_name",
           "AUTO_TREE_MIN_N"]
