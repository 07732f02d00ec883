"""One model from its spec to its final particles: build the galaxy (or merger), evolve it to ``t_end``.

This is the pipeline the campaign runs on every worker, and the one the comparison with the classic
estimators and the experiments re-run: written once here, so a model rebuilt anywhere is the campaign's
model (bit-identical on the NumPy backend). Maps are made from the result by :mod:`gcs_hpc.maps`.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

from gcs_hpc.errors import CheckpointMismatchError
from gcs_hpc.galaxy import build_model
from gcs_hpc.nbody.integrate import RunResult
from gcs_hpc.nbody.run import evolve
from gcs_hpc.specs import ModelSpec
from gcs_hpc.units import kpc_to_sim

#: Stages reported to ``on_stage``: the galaxy built, the N-body run finished.
STAGE_BUILT, STAGE_EVOLVED = "built", "evolved"


def simulate(spec: ModelSpec, backend: str = "auto", xp: ModuleType = np, *, model_name: str | None = None,
             t_end: float | None = None, energy_tolerance: float | None = None,
             checkpoint_path: str | Path | None = None, checkpoint_every_s: float | None = None,
             on_stale_checkpoint: Callable[[CheckpointMismatchError], None] | None = None,
             on_stage: Callable[[str, float], None] | None = None, **evolve_options: Any) -> RunResult:
    """Build the model of ``spec`` and evolve it as the campaign does; return the run (final particles
    in ``.particles``, statistics in ``.stats``, on NumPy).

    Parameters
    ----------
    spec
        The model: kind, galaxy and merger parameters, preset (resolution, softening, energy tolerance),
        seed, suite.
    backend
        Gravity backend name or ``auto`` (:data:`gcs_hpc.backends.BACKEND_CHOICES`).
    xp
        Array module the run uses (NumPy, or CuPy for ``cuda``).
    model_name
        Named in error messages (default: suite and seed of ``spec``).
    t_end
        End time in simulation units (default: the spec's, by kind).
    energy_tolerance
        Largest allowed relative energy error (default: the preset's).
    checkpoint_path, checkpoint_every_s
        Checkpoint file and wall seconds between checkpoints (see :func:`gcs_hpc.nbody.evolve`); an
        existing file is resumed.
    on_stale_checkpoint
        Called with the error when the checkpoint belongs to another run (other inputs, unreadable); the
        file is then removed and the run starts from t = 0. Without it the error propagates.
    on_stage
        Progress hook, called with (:data:`STAGE_BUILT`, wall seconds of the build) and
        (:data:`STAGE_EVOLVED`, wall seconds of the run).
    evolve_options
        Further keywords of :func:`gcs_hpc.nbody.evolve` (``output_times``, ``stop_after_steps``, ...).

    Raises
    ------
    SimulationError
        The run failed its physics checks (non-finite values, energy error above the tolerance).
    CheckpointMismatchError
        The checkpoint belongs to another run and ``on_stale_checkpoint`` is None.
    """
    start = time.perf_counter()
    particles = build_model(spec)
    if on_stage is not None:
        on_stage(STAGE_BUILT, time.perf_counter() - start)
    kwargs: dict[str, Any] = dict(
        t_end=spec.t_end if t_end is None else t_end, softening=kpc_to_sim(spec.preset.softening_kpc),
        backend=backend, xp=xp,
        energy_tolerance=spec.preset.energy_tolerance if energy_tolerance is None else energy_tolerance,
        model_name=model_name or f"{spec.suite} seed {spec.seed}", checkpoint_path=checkpoint_path,
        checkpoint_every_s=checkpoint_every_s, **evolve_options)
    start = time.perf_counter()
    try:
        result = evolve(particles, **kwargs)
    except CheckpointMismatchError as exc:
        if on_stale_checkpoint is None or checkpoint_path is None or not Path(checkpoint_path).exists():
            raise
        on_stale_checkpoint(exc)
        Path(checkpoint_path).unlink(missing_ok=True)
        result = evolve(particles, **kwargs)
    if on_stage is not None:
        on_stage(STAGE_EVOLVED, time.perf_counter() - start)
    return result
