"""``compiled``: the exact softened direct sum compiled with numba (CPU, serial or threaded).

Structure-of-arrays sources and a branch-free inner loop over a block of targets let LLVM vectorise the
sum across targets without reassociating any target's sum; it is the CPU reference for speed (target: at
least REBOUND's ``basic`` gravity, ~3e8 interactions/s per core).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

import numba
import numpy as np

from gcs_hpc.nbody.gravity._threads import compiled_threads
from gcs_hpc.nbody.gravity.base import GravityBackend, SourceField, register
from gcs_hpc.units import G

#: LLVM fast-math flags. No reassociation: a vectorised reduction's grouping can depend on buffer
#: alignment, which would break bit-identical reruns and restarts; NaN/inf semantics are kept so that a
#: diverging run shows up as non-finite accelerations. (Each numba module states its flags itself:
#: numba's on-disk cache only sees changes to the module's own file.)
FASTMATH = {"nsz"}


#: Targets summed together: the source loop is outer and this block of targets the inner (vectorised) loop.
TARGET_BLOCK = 64


@numba.njit(cache=True, fastmath=FASTMATH, nogil=True, error_model="numpy")
def direct_sum_range(tx, ty, tz, sx, sy, sz, sm, eps2, i0, i1, acc, phi):  # pragma: no cover - compiled
    """Softened sum over all sources for targets i0..i1-1 (writes acc[i], phi[i]).

    Targets are taken in blocks of :data:`TARGET_BLOCK`; for each source the whole block is updated, so
    every target sums its sources in index order (deterministic, no reassociation) while LLVM vectorises
    across targets. ``error_model="numpy"`` drops zero-division checks (denominators are softened).
    """
    m = sx.shape[0]
    ax = np.empty(TARGET_BLOCK)
    ay = np.empty(TARGET_BLOCK)
    az = np.empty(TARGET_BLOCK)
    ph = np.empty(TARGET_BLOCK)
    for b0 in range(i0, i1, TARGET_BLOCK):
        n = min(TARGET_BLOCK, i1 - b0)
        bx = tx[b0:b0 + n]
        by = ty[b0:b0 + n]
        bz = tz[b0:b0 + n]
        for i in range(n):
            ax[i] = 0.0
            ay[i] = 0.0
            az[i] = 0.0
            ph[i] = 0.0
        for j in range(m):
            qx, qy, qz, qm = sx[j], sy[j], sz[j], sm[j]
            for i in range(n):
                dx = qx - bx[i]
                dy = qy - by[i]
                dz = qz - bz[i]
                r2 = dx * dx + dy * dy + dz * dz + eps2
                inv_r = 1.0 / np.sqrt(r2)
                m_inv_r = qm * inv_r
                m_inv_r3 = m_inv_r * inv_r * inv_r
                ax[i] += dx * m_inv_r3
                ay[i] += dy * m_inv_r3
                az[i] += dz * m_inv_r3
                ph[i] -= m_inv_r
        for i in range(n):
            acc[b0 + i, 0] = G * ax[i]
            acc[b0 + i, 1] = G * ay[i]
            acc[b0 + i, 2] = G * az[i]
            phi[b0 + i] = G * ph[i]


#: Below this many pairs a threaded launch costs more than it saves (especially on a loaded machine).
PARALLEL_MIN_PAIRS = 1 << 22

#: Opt-in fast-math variant (``CompiledBackend(fast_math=True)``, serial only): reassociation lets LLVM
#: reorder the sums, at the price of results that may differ in the last bits between call contexts, so it
#: is never used by default (restarts must be bit-identical). Since the default sum is vectorised across
#: targets it is no faster (benchmarks/gravity.py: 0.8-1.2x the default); kept for comparison. Not cached.
_FAST_FLAGS = {"reassoc", "contract", "arcp", "nsz"}
direct_sum_range_fast = numba.njit(cache=False, fastmath=_FAST_FLAGS, error_model="numpy", nogil=True)(
    direct_sum_range.py_func)


@numba.njit(cache=True, parallel=True)
def _direct_sum_parallel(tx, ty, tz, sx, sy, sz, sm, eps2, n_blocks, acc, phi):  # pragma: no cover
    n = tx.shape[0]
    block = (n + n_blocks - 1) // n_blocks
    for b in numba.prange(n_blocks):
        direct_sum_range(tx, ty, tz, sx, sy, sz, sm, eps2, b * block, min(n, (b + 1) * block), acc, phi)


def direct_sum(target_pos: np.ndarray, source_pos: np.ndarray, source_mass: np.ndarray, softening: float,
               threads: int = 1, fast_math: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Accelerations (n, 3) and potentials (n,) of the softened direct sum (self terms included)."""
    t = np.ascontiguousarray(target_pos, dtype=np.float64).T.copy()
    s = np.ascontiguousarray(source_pos, dtype=np.float64).T.copy()
    sm = np.ascontiguousarray(source_mass, dtype=np.float64)
    n = t.shape[1]
    acc = np.empty((n, 3))
    phi = np.empty(n)
    eps2 = float(softening) ** 2
    if fast_math:
        direct_sum_range_fast(t[0], t[1], t[2], s[0], s[1], s[2], sm, eps2, 0, n, acc, phi)
    elif threads > 1 and n * s.shape[1] >= PARALLEL_MIN_PAIRS:
        _direct_sum_parallel(t[0], t[1], t[2], s[0], s[1], s[2], sm, eps2, 8 * threads, acc, phi)
    else:
        direct_sum_range(t[0], t[1], t[2], s[0], s[1], s[2], sm, eps2, 0, n, acc, phi)
    return acc, phi


class CompiledField(SourceField):
    """Sources held as float64 NumPy arrays for the compiled sum."""

    def __init__(self, pos: np.ndarray, mass: np.ndarray, softening: float, threads: int,
                 fast_math: bool = False) -> None:
        self.pos, self.mass, self.softening, self.threads = pos, mass, float(softening), threads
        self.fast_math = fast_math

    def at(self, target_pos: Any, *, potential: bool = False) -> tuple[Any, Any | None]:
        acc, phi = direct_sum(target_pos, self.pos, self.mass, self.softening, self.threads, self.fast_math)
        return acc, (phi if potential else None)


@register
class CompiledBackend(GravityBackend):
    """Exact softened direct sum compiled with numba (NumPy arrays only)."""

    name: ClassVar[str] = "compiled"

    def __init__(self, xp: ModuleType = np, threads: int | None = None, fast_math: bool = False) -> None:
        super().__init__(xp)
        self.threads, self.fast_math = threads, bool(fast_math)

    def prepare(self, source_pos: Any, source_mass: Any, softening: float) -> CompiledField:
        return CompiledField(np.asarray(source_pos, dtype=np.float64),
                             np.asarray(source_mass, dtype=np.float64),
                             softening, compiled_threads(self.threads), self.fast_math)
