"""One model, the one function a dask worker runs: spec in, one region of the store out.

build the galaxy (or merger) -> evolve it -> map its GCs along every viewing angle -> write the maps into
the model's region and mark it done. A model that fails its physics checks (energy error, NaN) is marked
failed in the store with the reason, and the campaign goes on. Everything the model needs travels in its
arguments; nothing global. The array module is chosen here, at the edge, from the backend name.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gcs_hpc.errors import ConfigError, SimulationError
from gcs_hpc.specs import MapSpec, ModelSpec


def _failure_reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_model(store_path: str | Path, index: int, spec: ModelSpec, map_spec: MapSpec,
              backend: str = "auto") -> str:
    """Build, evolve and map model ``index`` of a campaign and write it into the store.

    Parameters
    ----------
    store_path
        The campaign's zarr store (created beforehand by :func:`gcs_hpc.store.create_store`).
    index
        The model's index in the store.
    spec
        The model (parameters, preset, seed).
    map_spec
        How its maps are made.
    backend
        N-body backend: ``auto``, ``direct``, ``compiled``, ``tree`` or ``cuda`` (the CuPy array module;
        GPU workers).

    Returns
    -------
    str
        ``"done"`` (maps written) or ``"failed"`` (physics checks failed; reason written to the store).
    """
    return _run(store_path, index, spec, map_spec, backend)[0]


def _run(store_path: str | Path, index: int, spec: ModelSpec, map_spec: MapSpec,
         backend: str) -> tuple[str, str]:
    """:func:`run_model`, returning ``(status, failure reason or "")``."""
    # Imported here: the CLI starts fast, and only workers pay for numba compilation.
    from gcs_hpc.galaxy import build_model, disk_size_kpc
    from gcs_hpc.maps import make_model_maps
    from gcs_hpc.nbody import evolve
    from gcs_hpc.store import mark_failed, write_model
    from gcs_hpc.units import kpc_to_sim
    from gcs_hpc.xp import array_module

    xp = array_module("cupy" if backend == "cuda" else "numpy")
    name = f"model {index} ({spec.suite}, seed {spec.seed})"
    try:
        particles = build_model(spec)
        result = evolve(particles, t_end=spec.t_end, softening=kpc_to_sim(spec.preset.softening_kpc),
                        backend=backend, xp=xp, energy_tolerance=spec.preset.energy_tolerance,
                        model_name=name)
        maps, counts = make_model_maps(result.particles, map_spec, disk_size_kpc(spec.galaxy))
        if not np.all(np.isfinite(maps)):
            raise SimulationError(f"{name}: maps hold NaN or inf after the run")
    except (SimulationError, ConfigError) as exc:
        reason = _failure_reason(exc)
        mark_failed(store_path, index, reason)
        return "failed", reason
    write_model(store_path, index, maps, counts)
    return "done", ""


def timed_run_model(store_path: str | Path, index: int, spec: ModelSpec, map_spec: MapSpec,
                    backend: str = "auto") -> tuple[int, str, float, str]:
    """:func:`run_model` for the farm: ``(index, status, seconds, failure reason or "")``."""
    start = time.perf_counter()
    status, reason = _run(store_path, index, spec, map_spec, backend)
    return index, status, time.perf_counter() - start, reason
