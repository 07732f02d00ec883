"""Checkpoints of a leapfrog run: written by wall time, atomically, and resumed bit-exactly.

A checkpoint holds the full integrator state at a synchronised step (positions, velocities and the
accelerations the next kick uses, all float64 on NumPy), the step counters, the reference energy, the
diagnostics and snapshots recorded so far, and a fingerprint of the run's inputs (initial particles,
t_end, softening, time step, output times, backend). Resuming with other inputs raises
:class:`gcs_hpc.errors.CheckpointMismatchError` instead of silently continuing someone else's run. Because the
state is saved exactly and the force backends are deterministic, a resumed NumPy run is bit-identical
to one that was never interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gcs_hpc.errors import CheckpointMismatchError

#: What reading a damaged ``.npz`` raises: an empty file (EOFError), a truncated or bit-flipped one
#: (BadZipFile: no central directory, bad CRC-32), unparsable metadata (ValueError), a missing member.
UNREADABLE_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, KeyError, EOFError,
                                                      zipfile.BadZipFile)

#: Format version stored in every checkpoint.
CHECKPOINT_VERSION = 1


@dataclass
class RunState:
    """Everything needed to continue a run (NumPy arrays)."""

    pos: np.ndarray
    vel: np.ndarray
    acc: np.ndarray
    step: int
    segment: int
    step_in_segment: int
    t: float
    energy_0: float | None
    max_rel_energy_error: float
    wall_s: float
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    snapshot_times: list[float] = field(default_factory=list)
    snapshot_pos: list[np.ndarray] = field(default_factory=list)
    snapshot_vel: list[np.ndarray] = field(default_factory=list)
    #: Force evaluations on single particles so far (None: read from a checkpoint that did not count).
    particle_forces: int | None = None


def fingerprint(pos: np.ndarray, vel: np.ndarray, mass: np.ndarray, component: np.ndarray,
                galaxy: np.ndarray, settings: dict[str, Any]) -> str:
    """SHA-256 of the initial particles and the run settings that define the trajectory."""
    h = hashlib.sha256()
    for a in (pos, vel, mass, component, galaxy):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()


def write_checkpoint(path: str | Path, state: RunState, run_fingerprint: str) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    meta = {
        "version": CHECKPOINT_VERSION, "fingerprint": run_fingerprint, "step": state.step,
        "segment": state.segment, "step_in_segment": state.step_in_segment, "t": state.t,
        "energy_0": state.energy_0, "max_rel_energy_error": state.max_rel_energy_error,
        "wall_s": state.wall_s, "diagnostics": state.diagnostics, "snapshot_times": state.snapshot_times,
        "particle_forces": state.particle_forces,
    }
    n_snap = len(state.snapshot_times)
    shape = state.pos.shape
    with open(tmp, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), pos=state.pos, vel=state.vel, acc=state.acc,
                 snapshot_pos=np.array(state.snapshot_pos).reshape(n_snap, *shape),
                 snapshot_vel=np.array(state.snapshot_vel).reshape(n_snap, *shape))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_checkpoint(path: str | Path, run_fingerprint: str) -> RunState:
    """Read a checkpoint written by :func:`write_checkpoint` for the run with ``run_fingerprint``.

    Raises
    ------
    CheckpointMismatchError
        If the file is not a gcs_hpc checkpoint (empty, truncated, corrupt) or belongs to a run with other
        inputs (a ConfigError).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in ("pos", "vel", "acc", "snapshot_pos", "snapshot_vel")}
        if not isinstance(meta, dict) or "fingerprint" not in meta:
            raise ValueError("no run fingerprint in its metadata")
    except UNREADABLE_ERRORS as exc:
        raise CheckpointMismatchError(f"checkpoint_path {str(path)!r} is not a readable gcs_hpc checkpoint "
                                      f"(truncated or corrupt?): {type(exc).__name__}: {exc}") from None
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointMismatchError(f"checkpoint_path {str(path)!r} has version {meta.get('version')!r}; "
                                      f"allowed: {CHECKPOINT_VERSION}")
    if meta["fingerprint"] != run_fingerprint:
        raise CheckpointMismatchError(f"checkpoint_path {str(path)!r} belongs to another run (its initial "
                                      "particles or settings differ); remove it or choose another "
                                      "checkpoint_path")
    return RunState(
        pos=arrays["pos"], vel=arrays["vel"], acc=arrays["acc"], step=int(meta["step"]),
        segment=int(meta["segment"]), step_in_segment=int(meta["step_in_segment"]), t=float(meta["t"]),
        energy_0=meta["energy_0"], max_rel_energy_error=float(meta["max_rel_energy_error"]),
        wall_s=float(meta["wall_s"]), diagnostics=list(meta["diagnostics"]),
        snapshot_times=[float(t) for t in meta["snapshot_times"]],
        snapshot_pos=list(arrays["snapshot_pos"]), snapshot_vel=list(arrays["snapshot_vel"]),
        particle_forces=meta.get("particle_forces"),
    )
