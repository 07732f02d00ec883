"""``direct``: the exact O(N^2) softened sum, written once over the array module (NumPy or CuPy).

Targets and sources are processed in chunks so that no temporary exceeds :data:`MAX_PAIRS_PER_CHUNK`
pairs, which bounds memory for any N. This is the reference every other backend is tested against.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from gcs_hpc.nbody.gravity.base import GravityBackend, SourceField, register
from gcs_hpc.nbody.kernels import pair_field

#: Largest number of (target, source) pairs held in one temporary (~4 arrays of 8 MiB each at float64).
MAX_PAIRS_PER_CHUNK = 1 << 20


class DirectField(SourceField):
    """Sources kept as arrays; every evaluation is the exact pairwise sum in chunks."""

    def __init__(self, xp: ModuleType, pos: Any, mass: Any, softening: float,
                 max_pairs: int = MAX_PAIRS_PER_CHUNK) -> None:
        self.xp, self.pos, self.mass, self.softening = xp, pos, mass, float(softening)
        self.max_pairs = max_pairs

    def at(self, target_pos: Any, *, potential: bool = False) -> tuple[Any, Any | None]:
        xp = self.xp
        n, m = target_pos.shape[0], self.pos.shape[0]
        acc = xp.zeros((n, 3), dtype=target_pos.dtype)
        phi = xp.zeros(n, dtype=target_pos.dtype)
        source_chunk = max(1, min(m, self.max_pairs))
        target_chunk = max(1, self.max_pairs // source_chunk)
        sx, sy, sz = self.pos[:, 0], self.pos[:, 1], self.pos[:, 2]
        for i0 in range(0, n, target_chunk):
            i1 = min(n, i0 + target_chunk)
            tx = target_pos[i0:i1, 0:1]
            ty = target_pos[i0:i1, 1:2]
            tz = target_pos[i0:i1, 2:3]
            for j0 in range(0, m, source_chunk):
                j1 = min(m, j0 + source_chunk)
                ax, ay, az, ph = pair_field(sx[None, j0:j1] - tx, sy[None, j0:j1] - ty, sz[None, j0:j1] - tz,
                                            self.mass[j0:j1], self.softening, xp)
                acc[i0:i1, 0] += ax
                acc[i0:i1, 1] += ay
                acc[i0:i1, 2] += az
                phi[i0:i1] += ph
        return acc, (phi if potential else None)


@register
class DirectBackend(GravityBackend):
    """Exact softened sum over the array module, chunked (NumPy or CuPy)."""

    name: ClassVar[str] = "direct"
    array_modules: ClassVar[tuple[str, ...]] = ("numpy", "cupy")

    def __init__(self, xp: ModuleType = np, max_pairs: int = MAX_PAIRS_PER_CHUNK) -> None:
        super().__init__(xp)
        self.max_pairs = int(max_pairs)

    def prepare(self, source_pos: Any, source_mass: Any, softening: float) -> DirectField:
        return DirectField(self.xp, source_pos, source_mass, softening, self.max_pairs)
