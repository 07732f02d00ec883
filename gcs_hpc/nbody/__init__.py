"""N-body engine: softened gravity backends, kick-drift-kick leapfrog, diagnostics and restarts.

Entry points: :func:`evolve` (one run; ``time_steps=BlockSteps()`` for individual time steps),
:class:`RunResult`, :func:`get_backend` (gravity by name: ``direct``, ``compiled``, ``tree``, ``cuda``),
and the CLI ``python -m gcs_hpc.nbody``.
"""

from __future__ import annotations

from gcs_hpc.nbody.blocksteps import BlockSteps
from gcs_hpc.nbody.gravity import get_backend, resolve_backend_name
from gcs_hpc.nbody.integrate import RunResult, timestep
from gcs_hpc.nbody.run import evolve

__all__ = ["BlockSteps", "evolve", "RunResult", "get_backend", "resolve_backend_name", "timestep"]
