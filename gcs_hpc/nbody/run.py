"""The public entry point of the N-body engine: :func:`evolve` (validation and wiring)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

import numpy as np

from gcs_hpc.config import check_range
from gcs_hpc.errors import ConfigError
from gcs_hpc.nbody.blocksteps import BlockLeapfrogRun, BlockSteps
from gcs_hpc.nbody.gravity import get_backend, resolve_backend_name
from gcs_hpc.nbody.integrate import TIMESTEP_ETA, LeapfrogRun, RunResult
from gcs_hpc.particles import Particles
from gcs_hpc.xp import to_numpy


def evolve(particles: Particles, *, t_end: float, softening: float, backend: str = "auto",
           xp: ModuleType = np, energy_tolerance: float = 0.05, model_name: str = "model",
           output_times: Sequence[float] | None = None, diagnostics_every: int = 10,
           checkpoint_path: str | Path | None = None, checkpoint_every_s: float | None = None,
           dt: float | None = None, timestep_eta: float = TIMESTEP_ETA,
           backend_options: dict[str, Any] | None = None, stop_after_steps: int | None = None,
           on_checkpoint: Callable[[int, float], None] | None = None,
           time_steps: BlockSteps | None = None) -> RunResult:
    """Evolve ``particles`` from t = 0 to ``t_end`` with the kick-drift-kick leapfrog.

    Parameters
    ----------
    particles
        Initial state (simulation units); GCs (mass 0) are massless tracers.
    t_end
        End time (simulation units), > 0.
    softening
        Plummer softening length (simulation units), e.g. ``units.kpc_to_sim(preset.softening_kpc)``.
    backend
        ``direct``, ``compiled``, ``tree``, ``cuda`` or ``auto`` (cuda on CuPy; on the CPU tree for
        N >= 2000, else the numba ``compiled`` direct sum).
    xp
        Array module (NumPy or CuPy); results come back on NumPy.
    energy_tolerance
        Largest allowed max |E - E0| / |E0| before the run fails.
    model_name
        Named in error messages.
    output_times
        Times at which snapshots are kept (0 < t <= t_end; 0 keeps the initial state).
    diagnostics_every
        Steps between diagnostics (also recorded at output times and at the end).
    checkpoint_path
        Checkpoint file. If it exists the run resumes from it (it must belong to the same inputs); it is
        written every ``checkpoint_every_s`` wall seconds and removed when the run completes.
    checkpoint_every_s
        Wall-clock interval between checkpoints (None: only with ``stop_after_steps``).
    dt
        Largest time step; None uses the criterion of :func:`timestep` with ``timestep_eta``.
    backend_options
        Keyword arguments for the backend (e.g. ``{"opening_angle": 0.5}`` for the tree).
    stop_after_steps
        Stop after this many steps in total, writing a checkpoint first (a walltime-limited job); the
        result then has ``stats["complete"] = False``.
    on_checkpoint
        Called with ``(step, t)`` right after each periodic checkpoint (every ``checkpoint_every_s``) has
        been written, in the integration loop: the run's state is safe on disk while it runs, so it may
        report progress, wait (the campaign pauses a model there, :mod:`gcs_hpc.campaign.run_model`) or
        raise to stop the run. The time it takes is not counted towards the next checkpoint interval.
    time_steps
        None: one step for all particles (the default). A :class:`gcs_hpc.nbody.blocksteps.BlockSteps`:
        individual power-of-two steps around the global step of ``dt`` / ``timestep_eta``; the steps of
        the outer loop (``stats["steps"]``, ``diagnostics_every``, ``stop_after_steps``) are then its
        outer steps of ``2**coarse_levels`` global steps.

    Raises
    ------
    SimulationError
        Non-finite values, or energy error above ``energy_tolerance``; names model, step and time.
    ConfigError
        Invalid arguments, or a checkpoint that belongs to another run.
    """
    check_range("nbody", "t_end", float(t_end), 0.0, None, low_open=True)
    check_range("nbody", "softening", float(softening), 0.0, None, low_open=True)
    check_range("nbody", "energy_tolerance", float(energy_tolerance), 0.0, None, low_open=True)
    check_range("nbody", "diagnostics_every", diagnostics_every, 1, None)
    check_range("nbody", "timestep_eta", float(timestep_eta), 0.0, 10.0, low_open=True)
    if time_steps is not None and not isinstance(time_steps, BlockSteps):
        raise ConfigError(f"nbody: time_steps = {time_steps!r}; allowed: None (one global step) or a "
                          "gcs_hpc.nbody.blocksteps.BlockSteps")
    if dt is not None:
        check_range("nbody", "dt", float(dt), 0.0, float(t_end), low_open=True)
    if checkpoint_every_s is not None:
        check_range("nbody", "checkpoint_every_s", float(checkpoint_every_s), 0.0, None)
    output_times = sorted({float(t) for t in (output_times or [])})
    for t in output_times:
        check_range("nbody", "output_times[]", t, 0.0, float(t_end))
    if len(particles) == 0 or not bool(np.any(to_numpy(particles.mass) > 0)):
        raise ConfigError("nbody: particles must contain at least one massive particle (mass > 0)")

    name = resolve_backend_name(backend, len(particles), xp)
    run_class, extra = (LeapfrogRun, {}) if time_steps is None else (BlockLeapfrogRun, {"block": time_steps})
    run = run_class(particles, t_end=float(t_end), softening=float(softening),
                    backend=get_backend(name, xp, **(backend_options or {})), xp=xp,
                    energy_tolerance=float(energy_tolerance), model_name=model_name,
                    output_times=output_times, diagnostics_every=int(diagnostics_every), dt=dt,
                    timestep_eta=float(timestep_eta), checkpoint_path=checkpoint_path,
                    checkpoint_every_s=checkpoint_every_s, on_checkpoint=on_checkpoint, **extra)
    return run.run(stop_after_steps=stop_after_steps)


