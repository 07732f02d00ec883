"""Gravity backends by name: ``direct`` (xp), ``compiled`` (numba direct), ``tree`` (numba Barnes-Hut),
``cuda`` (CuPy RawKernel). All use the Plummer kernel of :mod:`gcs_hpc.nbody.kernels`."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from gcs_hpc.nbody.gravity import compiled, cuda, direct, tree  # noqa: F401  (registration)
from gcs_hpc.nbody.gravity.base import REGISTRY, GravityBackend, SourceField, get_backend, register

#: From this many particles on the CPU, ``auto`` picks the ``tree``; below it the exact ``compiled`` sum.
#: Measured crossover on one core (benchmarks/gravity.py kernels, Plummer sphere): compiled/tree time 0.8 at
#: N = 1000, 1.3 at 2000, 2.0 at 4000, 3.2 at 8000; 1.1 on the 2085 massive particles of a tiny-preset disk.
AUTO_TREE_MIN_N = 2_000


def resolve_backend_name(name: str, n: int, xp: ModuleType = np) -> str:
    """Resolve ``"auto"``: ``cuda`` on CuPy; on the CPU ``tree`` for ``n >= AUTO_TREE_MIN_N``, else
    ``compiled``.

    The NumPy ``direct`` sum is never picked automatically on the CPU (it is ~10x slower than the
    compiled sum at the same, exact, result); it stays available by name as the reference and for CuPy.
    Both CPU choices are deterministic (fixed summation order, no reassociation), so ``auto`` keeps
    bit-identical reruns and restarts.
    """
    if name != "auto":
        return name
    if xp.__name__.split(".")[0] == "cupy":
        return "cuda"
    return "tree" if n >= AUTO_TREE_MIN_N else "compiled"


__all__ = ["REGISTRY", "GravityBackend", "SourceField", "get_backend", "register", "resolve_backend_name",
           "AUTO_TREE_MIN_N"]
