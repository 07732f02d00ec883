"""One model, the one function a dask worker runs: spec in, one region of the store out.

build the galaxy (or merger) -> evolve it -> map its GCs along every viewing angle -> write the maps into
the model's region and mark it done. A model that fails its physics checks (energy error, NaN) is marked
failed in the store with the reason, and the campaign goes on. Everything the model needs travels in its
arguments; nothing global. The array module is chosen here, at the edge, from the backend name.

Checkpoints: with ``checkpoint_every_s`` the N-body run writes its full state every that many wall seconds
to ``<store>.checkpoints/model-<index>-<attempt>.npz`` (a folder beside the store, never inside it). A
worker that dies or leaves (``--lifetime``, walltime) costs only the time since the last checkpoint: the
rerun of the model takes over the most advanced checkpoint of that model and resumes from it
(bit-identical to an uninterrupted run on NumPy), so no model is impossible to finish under a time limit.
Each attempt writes its own file: a worker that is leaving may still be running its attempt while the
rerun has started elsewhere, and two writers of one file would collide. The model's files are removed
when it is done or failed (:func:`remove_checkpoints`).

Pause: while the file ``<store>.pause`` exists (:func:`pause_path`; ``touch run1.zarr.pause``), every
model of the store that writes checkpoints stops right after its next checkpoint, logs ``paused at step
N`` and waits until the file is removed, then goes on from where it stopped (the same result as a run
never paused). A paused model holds its worker thread but no CPU, and its state is safe on disk: the job
may even be cancelled or requeued then and lose nothing. Use it to lend the machine to something else for
a while, or to hold a campaign at a known point (the campaign tests do) before a requeue or a kill.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gcs_hpc.backends import worker_array_module
from gcs_hpc.errors import CheckpointMismatchError, ConfigError, SimulationError
from gcs_hpc.specs import MapSpec, ModelSpec
from gcs_hpc.store.schema import STATUS_DONE, STATUS_FAILED

logger = logging.getLogger("gcs_hpc.campaign")

#: Suffix of the checkpoint folder beside a store (``run1.zarr`` -> ``run1.zarr.checkpoints``).
CHECKPOINT_SUFFIX = ".checkpoints"
#: Suffix of the pause file beside a store (``run1.zarr`` -> ``run1.zarr.pause``).
PAUSE_SUFFIX = ".pause"
#: Seconds between looks at the pause file while a model is paused.
PAUSE_POLL_S = 0.2


class ModelOutcome(NamedTuple):
    """What one model's task returns to the farm."""

    index: int
    status: str
    seconds: float
    reason: str
    resumed_from_step: int  # step of the checkpoint the run resumed from (0: started from t = 0)


def checkpoint_directory(store_path: str | Path) -> Path:
    """The folder of a store's checkpoints: ``<store>.checkpoints`` beside the store."""
    store = Path(store_path)
    return store.with_name(store.name + CHECKPOINT_SUFFIX)


def pause_path(store_path: str | Path) -> Path:
    """The pause file of a store: ``<store>.pause`` beside it. While it exists, the store's models stop
    after their next checkpoint and wait (see the module's docstring)."""
    store = Path(store_path)
    return store.with_name(store.name + PAUSE_SUFFIX)


def _pause_hook(store_path: str | Path, name: str):
    """The ``on_checkpoint`` hook of a model's N-body run: wait while the store's pause file exists."""
    pause = pause_path(store_path)

    def wait_while_paused(step: int, t: float) -> None:
        if not pause.exists():
            return
        logger.warning("%s: paused at step %d (t = %.6g), checkpoint written; remove %s to continue",
                       name, step, t, pause)
        while pause.exists():
            time.sleep(PAUSE_POLL_S)
        logger.warning("%s: continuing from step %d", name, step)

    return wait_while_paused


def checkpoint_path(store_path: str | Path, index: int, attempt: str | None = None) -> Path:
    """The checkpoint file of one attempt at model ``index`` of a store (a new attempt name if None)."""
    attempt = uuid.uuid4().hex[:12] if attempt is None else attempt
    return checkpoint_directory(store_path) / f"model-{index:07d}-{attempt}.npz"


def model_checkpoints(store_path: str | Path, index: int) -> list[Path]:
    """The checkpoint files of model ``index``, the most advanced (highest step) first."""
    files = checkpoint_directory(store_path).glob(f"model-{index:07d}-*.npz")
    return sorted(files, key=lambda p: (-_checkpoint_step(p), p.name))


def remove_checkpoints(store_path: str | Path, index: int) -> None:
    """Remove every checkpoint file of model ``index`` (finished ones and temporary ones)."""
    for path in checkpoint_directory(store_path).glob(f"model-{index:07d}-*.npz*"):
        path.unlink(missing_ok=True)


def _take_over(store_path: str | Path, index: int, mine: Path) -> int:
    """Move the most advanced checkpoint of model ``index`` to ``mine`` (this attempt's file) and drop the
    others; return its step (0: none to resume)."""
    for _ in range(5):  # another attempt may move or replace a file between listing and renaming
        found = model_checkpoints(store_path, index)
        if not found:
            return 0
        try:
            os.replace(found[0], mine)
        except FileNotFoundError:
            continue
        for other in found[1:]:
            other.unlink(missing_ok=True)
        return _checkpoint_step(mine)
    return 0


def _failure_reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _checkpoint_step(path: Path) -> int:
    """Step stored in a checkpoint file (0 when there is none or it cannot be read: empty, truncated,
    corrupt; such a file is taken over last, and the run then starts from t = 0 with a warning)."""
    from gcs_hpc.nbody.checkpoint import UNREADABLE_ERRORS

    try:
        with np.load(path, allow_pickle=False) as data:
            return int(json.loads(str(data["meta"]))["step"])
    except (*UNREADABLE_ERRORS, TypeError):
        return 0


def run_model(store_path: str | Path, index: int, spec: ModelSpec, map_spec: MapSpec,
              backend: str = "auto", *, checkpoint_every_s: float | None = None) -> str:
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
        N-body backend: ``auto`` (the engine's choice: on the CPU the numba ``compiled`` direct sum below
        ``gcs_hpc.nbody.gravity.AUTO_TREE_MIN_N`` particles, the ``tree`` above), ``direct``, ``compiled``,
        ``tree`` or ``cuda`` (the CuPy array
        module; GPU workers).
    checkpoint_every_s
        Wall seconds between checkpoints of the N-body run (``None``: no checkpoints). An existing
        checkpoint of this model is resumed either way. With checkpoints, the model pauses after one
        while the store's pause file exists (:func:`pause_path`).

    Returns
    -------
    str
        ``"done"`` (maps written) or ``"failed"`` (physics checks failed; reason written to the store).
    """
    return _run(store_path, index, spec, map_spec, backend, checkpoint_every_s)[0]


def _run(store_path: str | Path, index: int, spec: ModelSpec, map_spec: MapSpec, backend: str,
         checkpoint_every_s: float | None = None) -> tuple[str, str, int]:
    """:func:`run_model`, returning ``(status, failure reason or "", step resumed from)``."""
    # Imported here: the CLI starts fast, and only workers pay for numba compilation.
    from gcs_hpc.galaxy import disk_size_kpc
    from gcs_hpc.maps import model_products
    from gcs_hpc.nbody.simulate import simulate
    from gcs_hpc.store import mark_failed, write_model
    from gcs_hpc.xp import array_module

    xp = array_module(worker_array_module(backend))
    name = f"model {index} ({spec.suite}, seed {spec.seed})"
    ckpt = checkpoint_path(store_path, index)
    resumed = 0
    try:
        resumed = _take_over(store_path, index, ckpt)
        if resumed:
            logger.warning("%s: resuming from checkpoint %s at step %d", name, ckpt, resumed)

        def start_afresh(exc: CheckpointMismatchError) -> None:
            # a checkpoint of other inputs (another backend, a changed preset) or a damaged one (truncated
            # by a full disk, a crash of the filesystem): simulate removes it and starts afresh
            nonlocal resumed
            logger.warning("%s: ignoring checkpoint %s (%s); starting from t = 0", name, ckpt, exc)
            resumed = 0

        result = simulate(spec, backend, xp, model_name=name, checkpoint_path=ckpt,
                          checkpoint_every_s=checkpoint_every_s, on_stale_checkpoint=start_afresh,
                          on_checkpoint=_pause_hook(store_path, name))
        products = model_products(result.particles, map_spec, disk_size_kpc(spec.galaxy))
        maps = products.maps
        if not np.all(np.isfinite(maps)):
            raise SimulationError(f"{name}: maps hold NaN or inf after the run")
    except (SimulationError, ConfigError) as exc:
        reason = _failure_reason(exc)
        mark_failed(store_path, index, reason)
        remove_checkpoints(store_path, index)
        return STATUS_FAILED, reason, resumed
    write_model(store_path, index, maps, products.counts, products.summary)  # status done after all
    remove_checkpoints(store_path, index)  # evolve removed its own; others of attempts still leaving
    return STATUS_DONE, "", resumed


def timed_run_model(store_path: str | Path, index: int, spec: ModelSpec, map_spec: MapSpec,
                    backend: str = "auto", checkpoint_every_s: float | None = None) -> ModelOutcome:
    """:func:`run_model` for the farm, returning a :class:`ModelOutcome`."""
    start = time.perf_counter()
    status, reason, resumed = _run(store_path, index, spec, map_spec, backend, checkpoint_every_s)
    return ModelOutcome(index, status, time.perf_counter() - start, reason, resumed)
