"""The interface every gravity backend implements, and the registry that finds backends by name.

A backend turns massive sources into a :class:`SourceField` once per force evaluation
(:meth:`GravityBackend.prepare`: the direct sum just keeps the arrays, the tree builds its octree) and then
evaluates that field at any set of targets (:meth:`SourceField.at`). Massless tracers (the GCs) are only
ever targets, so they feel the field and source nothing, and evaluating the field at the massive particles
alone gives the same numbers whether tracers exist or not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from gcs_hpc.backends import GRAVITY_BACKENDS
from gcs_hpc.config import check_choice, check_range
from gcs_hpc.xp import array_module

#: Registered backends by name (filled by :func:`register`).
REGISTRY: dict[str, type[GravityBackend]] = {}


class SourceField(ABC):
    """The softened gravitational field of a fixed set of massive sources."""

    @abstractmethod
    def at(self, target_pos: Any, *, potential: bool = False) -> tuple[Any, Any | None]:
        """Acceleration (and optionally potential) at ``target_pos``.

        Parameters
        ----------
        target_pos
            Target positions, shape (n, 3), on the backend's array module.
        potential
            Also return the potential; it includes the self term ``-m/epsilon`` of targets that are also
            sources (see :func:`gcs_hpc.nbody.kernels.self_potential`).

        Returns
        -------
        acc, phi
            Accelerations (n, 3) and potentials (n,) or None.
        """


class GravityBackend(ABC):
    """A way of computing softened gravity (Plummer kernel, :mod:`gcs_hpc.nbody.kernels`).

    Subclasses set :attr:`name` and :attr:`array_modules` and implement :meth:`prepare`.
    """

    #: Registry name.
    name: ClassVar[str] = ""
    #: Array modules the backend accepts ("numpy", "cupy").
    array_modules: ClassVar[tuple[str, ...]] = ("numpy",)
    #: The accuracy the backend promises with its default options: largest median relative force error
    #: against the exact float64 softened sum (the 99th percentile within 10 times it). Exact sums: 1e-12;
    #: tests/nbody/contract_backends.py holds every registered backend to its own value.
    force_tolerance: ClassVar[float] = 1.0e-12

    def __init__(self, xp: ModuleType = np) -> None:
        module = xp.__name__.split(".")[0]
        check_choice(f"gravity[{self.name}]", "xp", module, self.array_modules)
        self.xp = xp

    def __getstate__(self) -> dict[str, Any]:
        """Pickle with the array module by name (a module does not pickle), so a backend can travel to a
        dask worker, which imports that module again."""
        return {**self.__dict__, "xp": self.xp.__name__.split(".")[0]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "xp": array_module(state["xp"])})

    @abstractmethod
    def prepare(self, source_pos: Any, source_mass: Any, softening: float) -> SourceField:
        """Build the field of the sources (positions (m, 3), masses (m,), all > 0)."""

    def accelerations(self, target_pos: Any, source_pos: Any, source_mass: Any, softening: float, *,
                      potential: bool = False) -> tuple[Any, Any | None]:
        """Convenience: :meth:`prepare` then :meth:`SourceField.at`."""
        check_range(f"gravity[{self.name}]", "softening", float(softening), 0.0, None, low_open=True)
        return self.prepare(source_pos, source_mass, softening).at(target_pos, potential=potential)


def register(cls: type[GravityBackend]) -> type[GravityBackend]:
    """Class decorator adding a backend to :data:`REGISTRY` under ``cls.name``.

    Raises
    ------
    TypeError
        If ``cls.name`` is not listed in :data:`gcs_hpc.backends.GRAVITY_BACKENDS` (the one list configs
        and command lines take their choices from) or its ``array_modules`` differ from the list's.
    """
    info = GRAVITY_BACKENDS.get(cls.name)
    if info is None or tuple(cls.array_modules) != info.array_modules:
        raise TypeError(f"gravity backend {cls.__name__} ({cls.name!r}, array modules {cls.array_modules}) "
                        "must be listed with the same array modules in gcs_hpc.backends.GRAVITY_BACKENDS")
    REGISTRY[cls.name] = cls
    return cls


def get_backend(name: str, xp: ModuleType = np, **options: Any) -> GravityBackend:
    """Return a new backend instance by name.

    Parameters
    ----------
    name
        One of the registered names (``direct``, ``compiled``, ``tree``, ``cuda``); ``auto`` is resolved
        by :func:`gcs_hpc.nbody.gravity.resolve_backend_name`, not here.
    xp
        Array module (NumPy or CuPy).
    options
        Backend-specific keyword arguments (e.g. ``opening_angle`` for the tree).
    """
    check_choice("nbody", "backend", name, sorted(REGISTRY))
    return REGISTRY[name](xp=xp, **options)
