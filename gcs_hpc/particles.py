"""The particle container passed from galaxy to nbody to maps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Component codes stored in :attr:`Particles.component`.
HALO, DISK, BULGE, GC = 0, 1, 2, 3
COMPONENT_NAMES = {HALO: "halo", DISK: "disk", BULGE: "bulge", GC: "gc"}


@dataclass
class Particles:
    """Particles of one model in simulation units (:mod:`gcs_hpc.units`).

    Attributes
    ----------
    pos, vel
        Positions and velocities, shape (N, 3), float64.
    mass
        Masses, shape (N,); zero for GCs, which are massless tracers.
    component
        Component code per particle (HALO, DISK, BULGE, GC), int8.
    galaxy
        Index of the progenitor galaxy (0, or 1 for the secondary of a merger), int8.
    """

    pos: Any
    vel: Any
    mass: Any
    component: Any
    galaxy: Any

    def __post_init__(self) -> None:
        n = len(self.mass)
        for name in ("pos", "vel"):
            if getattr(self, name).shape != (n, 3):
                raise ValueError(f"Particles.{name} has shape {getattr(self, name).shape}; expected ({n}, 3)")
        for name in ("component", "galaxy"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"Particles.{name} has shape {getattr(self, name).shape}; expected ({n},)")

    def __len__(self) -> int:
        return len(self.mass)

    def where(self, component: int) -> np.ndarray:
        """Boolean mask of the particles of one component."""
        return self.component == component

    @property
    def stars(self) -> Any:
        """Boolean mask of stellar particles (disk and bulge)."""
        return (self.component == DISK) | (self.component == BULGE)

    @property
    def gcs(self) -> Any:
        """Boolean mask of the globular clusters."""
        return self.component == GC
