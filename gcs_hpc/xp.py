"""Array-module dispatch: NumPy or CuPy through one code path.

The array module is chosen once, at the edge (a CLI or a dask worker), by name, and passed down as
``xp``. Kernels written over ``xp`` run unchanged on both. Mixing NumPy and CuPy arrays in one call is an
error, never a silent copy.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from gcs_hpc.errors import ConfigError

BACKENDS = ("numpy", "cupy")


def has_cupy() -> bool:
    """Return True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver
        return False


def array_module(name: str = "numpy") -> ModuleType:
    """Return the array module called ``name`` ("numpy" or "cupy").

    Raises
    ------
    ConfigError
        If ``name`` is not one of :data:`BACKENDS`, or CuPy was asked for and no GPU is usable.
    """
    if name == "numpy":
        return np
    if name == "cupy":
        if not has_cupy():
            raise ConfigError("array module 'cupy' requested but CuPy or a CUDA device is not available; "
                              "allowed: 'numpy' on this machine")
        import cupy

        return cupy
    raise ConfigError(f"array module {name!r} is unknown; allowed: {', '.join(BACKENDS)}")


def get_namespace(*arrays: Any) -> ModuleType:
    """Return the array module of ``arrays`` (NumPy for scalars and lists).

    Raises
    ------
    TypeError
        If the arrays belong to different modules.
    """
    modules = set()
    for a in arrays:
        mod = type(a).__module__.split(".")[0]
        if mod == "cupy":
            modules.add("cupy")
        elif isinstance(a, np.ndarray) or np.isscalar(a) or isinstance(a, (list, tuple)):
            modules.add("numpy")
    if len(modules) > 1:
        raise TypeError("arrays mix NumPy and CuPy; move them to one device explicitly")
    if modules == {"cupy"}:
        import cupy

        return cupy
    return np


def to_numpy(a: Any) -> np.ndarray:
    """Return ``a`` as a NumPy array (copying from the GPU where needed)."""
    if type(a).__module__.split(".")[0] == "cupy":
        return a.get()
    return np.asarray(a)
