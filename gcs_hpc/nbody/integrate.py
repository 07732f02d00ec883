"""Kick-drift-kick leapfrog for softened N-body models with massless tracers: :func:`evolve`.

Time step. One global step from the initial state,

.. math::  \\Delta t = \\min\\left(\\eta \\sqrt{\\epsilon / \\max_i |a_i|},\\;
           C_v \\, \\epsilon / \\max_i |v_i|\\right),

over massive particles and tracers: the step resolves the free-fall time across one softening length
at the strongest acceleration (the scale of Power et al. 2003 and GADGET's ``sqrt(2 eta eps / |a|)``),
and no particle moves more than ``C_v`` softening lengths per step. Defaults ``eta = 0.5``,
``C_v = 3`` (:data:`TIMESTEP_ETA`, :data:`TIMESTEP_VELOCITY_COURANT`): for the ``quick`` presets this
gives ~0.02 time units, ~15 steps per orbit at the softening radius of the bulge. The step is then
shortened so that every output time and ``t_end`` fall exactly on a step: each interval between outputs
is cut into equal steps no longer than ``dt``. A fixed step keeps the scheme symplectic and time-reversible
(second order; the energy error falls ~4x
when dt halves, tests/nbody/test_integrate.py). Individual power-of-two steps are an opt-in alternative
(:mod:`gcs_hpc.nbody.blocksteps`, which overrides :meth:`LeapfrogRun._advance`).

Diagnostics (energy, momentum, angular momentum, centre of mass, shrinking-sphere density centre of the
stars, per galaxy for mergers) are recorded every ``diagnostics_every`` steps and at every output time;
the potential needed for the energy is computed in the same force call. Non-finite accelerations,
positions or velocities, or a relative energy error above ``energy_tolerance``, raise
:class:`gcs_hpc.errors.SimulationError` naming the model, step and time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

import numpy as np

from gcs_hpc.errors import SimulationError
from gcs_hpc.nbody import checkpoint as ckpt
from gcs_hpc.nbody.diagnostics import diagnostics_record
from gcs_hpc.nbody.kernels import KERNEL_NAME
from gcs_hpc.particles import Particles
from gcs_hpc.xp import get_namespace, to_numpy

#: Default accuracy parameter eta of the acceleration time-step criterion.
TIMESTEP_ETA = 0.5
#: Default largest number of softening lengths a particle may move in one step.
TIMESTEP_VELOCITY_COURANT = 3.0


@dataclass
class RunResult:
    """What :func:`evolve` returns.

    Attributes
    ----------
    particles
        Final state on NumPy.
    snapshots
        Output time -> Particles on NumPy, for each requested output time.
    diagnostics
        One dict per diagnostics step (see :func:`gcs_hpc.nbody.diagnostics.diagnostics_record`).
    stats
        backend, n, n_massive, steps, dt, wall_s, max_rel_energy_error, final_centre (stellar density
        centre, simulation units), kernel, softening, time_steps (``global`` or ``block``),
        particle_forces (force evaluations on single particles after t = 0: N per step for the global
        step, the active particles' sum for block steps, :mod:`gcs_hpc.nbody.blocksteps`).
    """

    particles: Particles
    snapshots: dict[float, Particles] = field(default_factory=dict)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def timestep(acc: Any, vel: Any, softening: float, eta: float = TIMESTEP_ETA,
             velocity_courant: float = TIMESTEP_VELOCITY_COURANT) -> float:
    """The time-step criterion of the module docstring (float)."""
    xp = get_namespace(acc, vel)
    a_max = float(xp.sqrt(xp.max(xp.sum(acc * acc, axis=1)))) if len(acc) else 0.0
    v_max = float(xp.sqrt(xp.max(xp.sum(vel * vel, axis=1)))) if len(vel) else 0.0
    dt = min(eta * math.sqrt(softening / a_max) if a_max > 0 else math.inf,
             velocity_courant * softening / v_max if v_max > 0 else math.inf)
    return dt if math.isfinite(dt) else eta * softening


def segment_schedule(t_end: float, output_times: Sequence[float],
                     dt: float) -> list[tuple[float, float, int]]:
    """Intervals (t_start, t_stop, n_steps) between consecutive outputs, with steps no longer than dt."""
    stops = sorted({float(t) for t in output_times if 0.0 < t < t_end} | {float(t_end)})
    schedule, t0 = [], 0.0
    for t1 in stops:
        schedule.append((t0, t1, max(1, math.ceil((t1 - t0) / dt * (1.0 - 1e-12)))))
        t0 = t1
    return schedule


class _Forces:
    """Force evaluation: sources are the massive particles, targets everybody (tracers source nothing)."""

    def __init__(self, backend: Any, xp: ModuleType, mass: Any, softening: float) -> None:
        self.backend, self.xp, self.softening = backend, xp, softening
        self.massive = mass > 0
        self.tracers = ~self.massive
        self.has_tracers = bool(int(xp.count_nonzero(self.tracers)) > 0)
        self.source_mass = mass[self.massive]

    def __call__(self, pos: Any, potential: bool) -> tuple[Any, Any | None]:
        xp = self.xp
        sources = pos[self.massive]
        field_ = self.backend.prepare(sources, self.source_mass, self.softening)
        acc = xp.empty_like(pos)
        acc_m, phi_m = field_.at(sources, potential=potential)  # same array: the tree reuses its octree
        acc[self.massive] = acc_m
        if self.has_tracers:
            acc[self.tracers] = field_.at(pos[self.tracers])[0]
        return acc, phi_m

    def at(self, pos: Any, targets: Any) -> Any:
        """Accelerations of the particles ``targets`` (indices) only, in the field of all massive
        particles at ``pos`` (a partial evaluation, for individual time steps)."""
        field_ = self.backend.prepare(pos[self.massive], self.source_mass, self.softening)
        return field_.at(pos[targets])[0]


class LeapfrogRun:
    """One leapfrog run: state, schedule, diagnostics, checkpoints (use :func:`gcs_hpc.nbody.evolve`)."""

    def __init__(self, particles: Particles, *, t_end: float, softening: float, backend: Any, xp: ModuleType,
                 energy_tolerance: float, model_name: str, output_times: list[float], diagnostics_every: int,
                 dt: float | None, timestep_eta: float, checkpoint_path: str | Path | None,
                 checkpoint_every_s: float | None,
                 on_checkpoint: Callable[[int, float], None] | None = None) -> None:
        self.xp, self.backend, self.softening = xp, backend, softening
        self.t_end, self.energy_tolerance, self.model_name = t_end, energy_tolerance, model_name
        self.output_times, self.diagnostics_every = output_times, diagnostics_every
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.checkpoint_every_s = checkpoint_every_s
        self.on_checkpoint = on_checkpoint
        self.mass = xp.asarray(particles.mass, dtype=xp.float64)
        self.component = xp.asarray(particles.component)
        self.galaxy = xp.asarray(particles.galaxy)
        self.forces = _Forces(backend, xp, self.mass, softening)
        self.initial = particles
        pos0 = xp.array(particles.pos, dtype=xp.float64, copy=True)
        vel0 = xp.array(particles.vel, dtype=xp.float64, copy=True)
        acc0, phi0 = self.forces(pos0, potential=True)
        self._check_finite(acc0, pos0, vel0, 0, 0.0)
        self.timestep_eta = timestep_eta
        dt_criterion = timestep(acc0, vel0, softening, timestep_eta) if dt is None else float(dt)
        self.dt = self._base_step(dt_criterion)
        self.schedule = segment_schedule(t_end, output_times, self.dt)
        settings = {"t_end": t_end, "softening": softening, "dt": self.dt, "output_times": output_times,
                    "backend": backend.name, "diagnostics_every": diagnostics_every, **self._settings()}
        columns = (particles.pos, particles.vel, particles.mass, particles.component, particles.galaxy)
        self.fingerprint = ckpt.fingerprint(*(to_numpy(a) for a in columns), settings)
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.state = ckpt.read_checkpoint(self.checkpoint_path, self.fingerprint)
            self.pos, self.vel, self.acc = (xp.asarray(a)
                                            for a in (self.state.pos, self.state.vel, self.state.acc))
        else:
            self.pos, self.vel, self.acc = pos0, vel0, acc0
            self.state = ckpt.RunState(pos=None, vel=None, acc=None, step=0, segment=0, step_in_segment=0,
                                       t=0.0, energy_0=None, max_rel_energy_error=0.0, wall_s=0.0,
                                       particle_forces=0)
            self._record(phi0)
            if 0.0 in output_times:
                self._snapshot(0.0)
        if self.state.particle_forces is None:  # a checkpoint written before the count was kept
            self.state.particle_forces = self.state.step * len(self.mass)

    # -- what an individual-step run overrides -----------------------------------------------------
    #: Name of the time-step scheme (``stats["time_steps"]``).
    time_steps = "global"

    def _base_step(self, dt: float) -> float:
        """The step of the outer loop from the criterion's (or the caller's) step ``dt``."""
        return dt

    def _settings(self) -> dict[str, Any]:
        """Settings beyond the common ones that define the trajectory (part of the fingerprint)."""
        return {}

    def _advance(self, h: float, want_potential: bool) -> Any:
        """One kick-drift-kick step of length ``h`` for all particles; returns the potential at the
        massive particles when ``want_potential`` (else None)."""
        self.vel += (0.5 * h) * self.acc
        self.pos += h * self.vel
        self.acc, phi = self.forces(self.pos, potential=want_potential)
        self.vel += (0.5 * h) * self.acc
        self.state.particle_forces += len(self.mass)
        return phi

    # -- bookkeeping -------------------------------------------------------------------------------
    def _fail(self, what: str, step: int, t: float) -> None:
        state = getattr(self, "state", None)
        last = state.diagnostics[-1] if state is not None and state.diagnostics else {}
        raise SimulationError(f"model {self.model_name!r}: {what} at step {step}, t = {t:.6g} "
                              f"(dt = {getattr(self, 'dt', float('nan')):.4g}, backend {self.backend.name})",
                              diagnostics=last)

    def _check_finite(self, acc: Any, pos: Any, vel: Any, step: int, t: float) -> None:
        xp = self.xp
        for name, a in (("acceleration", acc), ("position", pos), ("velocity", vel)):
            if not bool(xp.all(xp.isfinite(a))):
                self._fail(f"non-finite {name} (NaN or inf)", step, t)

    def _record(self, phi_massive: Any) -> None:
        s = self.state
        rec = diagnostics_record(self.xp, s.step, s.t, self.pos, self.vel, self.mass, self.component,
                                 self.galaxy, phi_massive, self.forces.massive, self.softening, s.energy_0)
        if s.energy_0 is None:
            s.energy_0 = rec["energy"]
        s.diagnostics.append(rec)
        s.max_rel_energy_error = max(s.max_rel_energy_error, rec["rel_energy_error"])
        if not math.isfinite(rec["energy"]):
            self._fail("non-finite energy", s.step, s.t)
        if rec["rel_energy_error"] > self.energy_tolerance:
            self._fail(f"relative energy error {rec['rel_energy_error']:.3g} above energy_tolerance "
                       f"{self.energy_tolerance:g}", s.step, s.t)

    def _snapshot(self, t: float) -> None:
        self.state.snapshot_times.append(t)
        self.state.snapshot_pos.append(to_numpy(self.pos).copy())
        self.state.snapshot_vel.append(to_numpy(self.vel).copy())

    def _write_checkpoint(self, wall_s: float) -> None:
        s = self.state
        s.pos, s.vel, s.acc = to_numpy(self.pos), to_numpy(self.vel), to_numpy(self.acc)
        s.wall_s = wall_s
        ckpt.write_checkpoint(self.checkpoint_path, s, self.fingerprint)

    def _particles(self, pos: np.ndarray, vel: np.ndarray) -> Particles:
        p = self.initial
        return Particles(pos=pos, vel=vel, mass=to_numpy(p.mass).copy(),
                         component=to_numpy(p.component).copy(), galaxy=to_numpy(p.galaxy).copy())

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, stop_after_steps: int | None = None) -> RunResult:
        """Integrate to t_end (or stop after ``stop_after_steps`` steps, with a checkpoint)."""
        s = self.state
        start = time.perf_counter()
        wall_before = s.wall_s
        last_checkpoint = start
        while s.segment < len(self.schedule):
            t0, t1, n_steps = self.schedule[s.segment]
            h = (t1 - t0) / n_steps
            while s.step_in_segment < n_steps:
                if stop_after_steps is not None and s.step >= stop_after_steps:
                    if self.checkpoint_path is not None:
                        self._write_checkpoint(wall_before + time.perf_counter() - start)
                    return self._result(wall_before + time.perf_counter() - start, complete=False)
                last = s.step_in_segment + 1 == n_steps
                want_potential = last or (s.step + 1) % self.diagnostics_every == 0
                phi = self._advance(h, want_potential)
                s.step += 1
                s.step_in_segment += 1
                s.t = t1 if last else t0 + s.step_in_segment * h
                self._check_finite(self.acc, self.pos, self.vel, s.step, s.t)
                if want_potential:
                    self._record(phi)
                if last and t1 in self.output_times:
                    self._snapshot(t1)
                now = time.perf_counter()
                if (self.checkpoint_path is not None and self.checkpoint_every_s is not None
                        and now - last_checkpoint >= self.checkpoint_every_s
                        and not (last and t1 == self.t_end)):
                    self._write_checkpoint(wall_before + now - start)
                    last_checkpoint = now
                    if self.on_checkpoint is not None:  # the state is on disk: the hook may wait, or exit
                        self.on_checkpoint(s.step, s.t)
                        last_checkpoint = time.perf_counter()
            s.segment += 1
            s.step_in_segment = 0
        result = self._result(wall_before + time.perf_counter() - start, complete=True)
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.checkpoint_path.unlink()
        return result

    def _result(self, wall_s: float, complete: bool) -> RunResult:
        s = self.state
        snapshots = {t: self._particles(p, v)
                     for t, p, v in zip(s.snapshot_times, s.snapshot_pos, s.snapshot_vel)}
        final_centre = s.diagnostics[-1]["density_centre"] if s.diagnostics else None
        stats = {
            "backend": self.backend.name, "kernel": KERNEL_NAME, "n": int(len(self.mass)),
            "n_massive": int(self.xp.count_nonzero(self.forces.massive)), "steps": int(s.step), "dt": self.dt,
            "t": float(s.t), "softening": self.softening, "wall_s": float(wall_s),
            "max_rel_energy_error": float(s.max_rel_energy_error), "final_centre": final_centre,
            "complete": complete, "time_steps": self.time_steps, "particle_forces": int(s.particle_forces),
        }
        return RunResult(particles=self._particles(to_numpy(self.pos).copy(), to_numpy(self.vel).copy()),
                         snapshots=snapshots, diagnostics=list(s.diagnostics), stats=stats)
