"""Individual (block, power-of-two) time steps: :class:`BlockLeapfrogRun`, the hierarchical KDK leapfrog.

Why. The global step of :mod:`gcs_hpc.nbody.integrate` is set by the strongest acceleration (the centre of
the bulge), so every halo particle, whose own orbit would allow a step many times longer, is pushed as
often as the innermost star. Here each particle takes the step its own state asks for,

.. math::  \\Delta t_i = \\min\\left(\\eta \\sqrt{\\epsilon / |a_i|},\\; C_v \\, \\epsilon / |v_i|\\right),

the per-particle form of the global criterion (whose step is the minimum of these over particles),
rounded down to a power-of-two fraction ``h / 2^k`` of the outer step ``h`` (bins ``k = 0 .. K``).

Scheme (the hierarchical KDK of GADGET-2, Springel 2005, section 4). Within one outer step time is counted
in integer ticks of ``h / 2^K``; a particle in bin ``k`` steps ``2^(K-k)`` ticks and its steps start at
multiples of that length, so bins nest and the outer step ends with every particle synchronised. At the
start of its step a particle gets the opening half-kick ``a_i dt_i / 2``; all particles (active or not)
drift to the next tick at which some step ends; the particles whose step ends there ("active") get new
accelerations in the field of all massive particles at their current (drifted) positions (the tree is
rebuilt from all sources, walked for the active targets only), the closing half-kick, a new bin from the
criterion (a step may only grow to a length that the current tick is a multiple of), and the next opening
half-kick. At the end of the outer step all particles are active: the force call is the global scheme's
(with the potential when diagnostics want it), velocities are synchronised, and the state (positions,
velocities, accelerations) is exactly the one the global scheme keeps, so checkpoints, diagnostics and
snapshots are unchanged and a resumed run is bit-identical (bins are recomputed from that state).

Step range. The outer step is ``2^coarse_levels`` times the global criterion's step at t = 0 (shortened
to fit the output times, as the global step is), and the finest bin is ``2^-fine_levels`` times that
global step, so particles that need more than the global step (pericentre passages of a merger) get it.
A step with active particles costs one tree build over all sources plus a walk for the active targets:
``stats["particle_forces"]`` counts the targets (the global scheme's count is N per step).

Measured (benchmarks/block_steps.py, quick merger to t = 20): with the defaults 1.06x fewer
particle-force evaluations than the global step and max |dE/E| 1.09e-3 against 7.1e-4; with the global
criterion per particle (``velocity_courant=3``) 1.57x fewer and 7.5e-3. Opt-in only: the campaign keeps
the global step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gcs_hpc.config import check_range
from gcs_hpc.nbody.integrate import TIMESTEP_ETA, LeapfrogRun

#: Largest total number of bins below the outer step (ticks are integers ``< 2**MAX_LEVELS``).
MAX_LEVELS = 20
#: Default per-particle velocity Courant number: half the global criterion's (measured: with 3, as the
#: global step, the tiny merger's max |dE/E| to t = 5 is 3.4x the global scheme's; with 1.5, 0.6x).
BLOCK_VELOCITY_COURANT = 1.5


@dataclass(frozen=True)
class BlockSteps:
    """Individual power-of-two time steps for :func:`gcs_hpc.nbody.evolve` (``time_steps=BlockSteps()``).

    Attributes
    ----------
    coarse_levels
        Bins above the reference global step: the outer step is ``2**coarse_levels`` global steps.
    fine_levels
        Bins below it: the finest step is ``2**-fine_levels`` global steps.
    eta
        Accuracy parameter of the per-particle acceleration criterion.
    velocity_courant
        Most softening lengths a particle may move in one of its steps.
    """

    coarse_levels: int = 4
    fine_levels: int = 1
    eta: float = TIMESTEP_ETA
    velocity_courant: float = BLOCK_VELOCITY_COURANT

    def __post_init__(self) -> None:
        check_range("time_steps", "coarse_levels", self.coarse_levels, 0, MAX_LEVELS)
        check_range("time_steps", "fine_levels", self.fine_levels, 0, MAX_LEVELS - self.coarse_levels)
        check_range("time_steps", "eta", self.eta, 0.0, 10.0, low_open=True)
        check_range("time_steps", "velocity_courant", self.velocity_courant, 0.0, 100.0, low_open=True)


def particle_timesteps(xp: Any, acc: Any, vel: Any, softening: float, eta: float,
                       velocity_courant: float) -> Any:
    """Per-particle step ``min(eta sqrt(eps / |a_i|), C_v eps / |v_i|)`` (inf where both vanish)."""
    a = xp.sqrt(xp.sum(acc * acc, axis=1))
    v = xp.sqrt(xp.sum(vel * vel, axis=1))
    with np.errstate(divide="ignore"):
        dt_acc = eta * xp.sqrt(softening / a)
        dt_vel = velocity_courant * softening / v
    return xp.minimum(dt_acc, dt_vel)


def step_bins(xp: Any, dt_particle: Any, h: float, max_level: int, min_level: int = 0) -> Any:
    """Bins ``k`` (int64) with ``h / 2^k <= dt_particle``, the coarsest such, clipped to
    ``[min_level, max_level]``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = xp.ceil(xp.log2(h / dt_particle))
    k = xp.where(xp.isfinite(k), k, 0.0)  # dt = inf (no acceleration, no velocity): the longest step
    return xp.clip(k, min_level, max_level).astype(xp.int64)


class BlockLeapfrogRun(LeapfrogRun):
    """A leapfrog run with individual power-of-two time steps (see the module docstring).

    Parameters
    ----------
    args, kwargs
        Those of :class:`gcs_hpc.nbody.integrate.LeapfrogRun` (its ``dt`` or ``timestep_eta`` define the
        reference global step).
    block
        The bins and the per-particle criterion.
    """

    time_steps = "block"

    def __init__(self, *args: Any, block: BlockSteps, **kwargs: Any) -> None:
        self.block = block
        self.max_level = block.coarse_levels + block.fine_levels
        super().__init__(*args, **kwargs)

    def _base_step(self, dt: float) -> float:
        return dt * 2.0**self.block.coarse_levels

    def _settings(self) -> dict[str, Any]:
        b = self.block
        return {"time_steps": self.time_steps, "coarse_levels": b.coarse_levels, "fine_levels": b.fine_levels,
                "block_eta": b.eta, "block_velocity_courant": b.velocity_courant}

    def _bins(self, acc: Any, vel: Any, h: float, min_level: int = 0) -> Any:
        b = self.block
        dt = particle_timesteps(self.xp, acc, vel, self.softening, b.eta, b.velocity_courant)
        return step_bins(self.xp, dt, h, self.max_level, min_level)

    def _advance(self, h: float, want_potential: bool) -> Any:
        xp, n_ticks = self.xp, 1 << self.max_level
        tick = h / n_ticks
        length = xp.left_shift(xp.int64(1), self.max_level - self._bins(self.acc, self.vel, h))  # ticks
        end = length.copy()
        self.vel += (0.5 * tick * length.astype(xp.float64))[:, None] * self.acc
        now = 0
        while True:
            nxt = int(xp.min(end))
            self.pos += ((nxt - now) * tick) * self.vel
            now = nxt
            if now == n_ticks:  # everybody: the global scheme's force call, potential included
                self.acc, phi = self.forces(self.pos, potential=want_potential)
                self.vel += (0.5 * tick * length.astype(xp.float64))[:, None] * self.acc
                self.state.particle_forces += len(self.mass)
                return phi
            active = xp.nonzero(end == now)[0]
            acc = self.forces.at(self.pos, active)
            self.state.particle_forces += int(len(active))
            self.vel[active] += (0.5 * tick * length[active].astype(xp.float64))[:, None] * acc
            self.acc[active] = acc
            # the new step may only be as long as the largest power of two dividing the current tick
            min_level = self.max_level - (int(now & -now).bit_length() - 1)
            new_length = xp.left_shift(xp.int64(1),
                                       self.max_level - self._bins(acc, self.vel[active], h, min_level))
            length[active] = new_length
            end[active] = now + new_length
            self.vel[active] += (0.5 * tick * new_length.astype(xp.float64))[:, None] * acc

