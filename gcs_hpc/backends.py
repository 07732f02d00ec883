"""The N-body gravity backends by name, and the array module each runs on: the one list.

Configs (cluster files, experiment scales) and command lines take their choices from here, so they cannot
disagree with the engine; :func:`gcs_hpc.nbody.gravity.register` refuses a backend class that is not
listed here or that accepts other array modules. Nothing heavy is imported here (no numba, no CuPy), so a
command line's ``--help`` compiles no kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

from gcs_hpc.config import check_choice
from gcs_hpc.errors import ConfigError

#: The name that lets :func:`gcs_hpc.nbody.gravity.resolve_backend_name` choose by particle count and
#: array module.
AUTO = "auto"


@dataclass(frozen=True)
class BackendInfo:
    """What the rest of gcs_hpc needs to know about one gravity backend.

    Attributes
    ----------
    name
        Registry name.
    array_modules
        Array modules the backend accepts (``numpy``, ``cupy``); the first is the one a worker uses.
    summary
        One line for help texts.
    """

    name: str
    array_modules: tuple[str, ...]
    summary: str

    def __post_init__(self) -> None:
        if not self.array_modules or not set(self.array_modules) <= {"numpy", "cupy"}:
            raise ConfigError(f"backend {self.name!r}: array_modules = {self.array_modules!r}; allowed: a "
                              "non-empty subset of ('numpy', 'cupy')")


#: Every gravity backend, by name (the classes live in gcs_hpc/nbody/gravity/<name>.py).
GRAVITY_BACKENDS: dict[str, BackendInfo] = {info.name: info for info in (
    BackendInfo("direct", ("numpy", "cupy"), "exact softened sum over xp (the reference)"),
    BackendInfo("compiled", ("numpy",), "exact softened sum compiled with numba (CPU)"),
    BackendInfo("tree", ("numpy",), "Barnes-Hut octree compiled with numba (CPU)"),
    BackendInfo("cuda", ("cupy",), "exact softened sum as a CUDA kernel (CuPy, GPU)"),
)}

#: Names a config or command line may give: ``auto`` and every backend.
BACKEND_CHOICES: tuple[str, ...] = (AUTO, *GRAVITY_BACKENDS)


def worker_array_module(backend: str) -> str:
    """The array module a worker running ``backend`` uses: ``cupy`` for GPU-only backends, else ``numpy``."""
    check_choice("", "backend", backend, BACKEND_CHOICES)
    return "numpy" if backend == AUTO else GRAVITY_BACKENDS[backend].array_modules[0]
