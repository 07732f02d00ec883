"""Trust, but check: is a store writable, and do its done models really hold their data?

A model's status says ``done`` once its region was written (:func:`gcs_hpc.store.write_model`), but chunk
files can go missing or be damaged afterwards (deleted by hand, truncated by a full disk or a crashed
filesystem, a copy that stopped half-way). A missing chunk reads silently as its fill value (NaN maps,
-1 counts); a damaged one raises a codec error in the middle of training. :func:`verify_store` reads every
done model's worker-written arrays, finds such models, and (by default) sets them back to ``pending``
with the reason in ``error``, so the next campaign run computes them again. :func:`check_writable` fails
up front, before any model is computed, when the store cannot be written.
"""

from __future__ import annotations

import errno
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from gcs_hpc.errors import StoreError
from gcs_hpc.store.cube import _set_status
from gcs_hpc.store.group import group_array as _array
from gcs_hpc.store.group import model_status
from gcs_hpc.store.group import open_group as _open_group
from gcs_hpc.store.schema import STATUS_DONE, STATUS_PENDING, WRITTEN_BY_WORKERS

#: Models read at once while verifying (a block with a damaged chunk is then read model by model).
VERIFY_BLOCK = 256
#: Prefix of the ``error`` text of a model that verification set back to pending.
VERIFY_REASON = "verify: "
#: Worker-written arrays holding numbers (status and error are text, checked by reading them).
DATA_ARRAYS = tuple(name for name in WRITTEN_BY_WORKERS if name not in ("status", "error"))


def _probe(folder: Path) -> str | None:
    """Create and remove a file in ``folder``; return why that failed (None: writable)."""
    probe = folder / f".gcs-write-test-{uuid.uuid4().hex}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        reason = "read-only file system" if exc.errno == errno.EROFS else (exc.strerror or str(exc))
        return f"{folder}: {reason}"
    os.close(fd)
    probe.unlink(missing_ok=True)
    return None


def check_writable(path: str | os.PathLike, also: Iterable[str | os.PathLike] = ()) -> None:
    """Raise :class:`StoreError` unless a file can be created in the store (or empty store folder) and in
    every folder a model's write goes to, and in each folder of ``also`` (e.g. where checkpoints go).

    Each folder is probed by creating and removing a file, so a read-only mount, missing permissions or
    an immutable folder are all caught, for root as for anyone.
    """
    store = Path(path)
    folders = [store]
    for name in WRITTEN_BY_WORKERS:
        for sub in (store / name, store / name / "c"):
            if sub.is_dir():
                folders.append(sub)
    problems = [p for p in (_probe(f) for f in folders) if p]
    problems += [p for p in (_probe(Path(f)) for f in also if Path(f).is_dir()) if p]
    if problems:
        raise StoreError(f"store {str(store)!r} is not writable ({'; '.join(problems[:3])}"
                         f"{'; ...' if len(problems) > 3 else ''}); nothing was computed or changed. "
                         "Allowed: a store folder you can write (check its permissions and mount), or "
                         "another --store")


@dataclass
class VerifyReport:
    """What :func:`verify_store` found.

    Attributes
    ----------
    path
        The store.
    n_models, n_done
        Models in the store, and done models checked.
    broken
        Done models whose data is missing or damaged: index -> what is wrong.
    reset
        True when the broken models were set back to pending (their damaged chunks cleared).
    """

    path: str
    n_models: int
    n_done: int
    broken: dict[int, str] = field(default_factory=dict)
    reset: bool = False

    def summary(self) -> str:
        """One line (plus one per broken model, up to 10) for the campaign log."""
        head = f"verify {self.path}: {self.n_done} done models checked"
        if not self.broken:
            return head + "; every one holds readable, complete data"
        action = "set back to pending (rerun the campaign to compute them again)" if self.reset else \
            "left as they are"
        lines = [f"{head}; {len(self.broken)} broken, {action}:"]
        lines += [f"  model {i}: {why}" for i, why in sorted(self.broken.items())[:10]]
        if len(self.broken) > 10:
            lines.append(f"  ... and {len(self.broken) - 10} more")
        return "\n".join(lines)


def _problem(name: str, region: np.ndarray, fill: object) -> str | None:
    """What is wrong with one done model's region of array ``name`` (None: fine)."""
    values = np.asarray(region)
    if name not in ("maps", "counts"):  # summary arrays may be left unwritten (NaN): decoding is the check
        return None
    if values.dtype.kind == "f":
        if np.all(np.isnan(values)):
            return f"{name} chunk is missing (reads as its fill value NaN)"
        if not np.all(np.isfinite(values)):
            return f"{name} hold NaN or inf"
        return None
    if fill is not None and np.all(values == fill):
        return f"{name} chunk is missing (reads as its fill value {fill})"
    if name == "counts" and values.min(initial=0) < 0:
        return "counts hold negative values"
    return None


def _check_array(arr, name: str, done: np.ndarray, broken: dict[int, str], block: int) -> None:
    fill = arr.fill_value
    for start in range(0, len(done), block):
        indices = done[start:start + block]
        lo, hi = int(indices[0]), int(indices[-1]) + 1
        try:
            data = arr[lo:hi]
        except Exception:  # a damaged chunk in this block: find it model by model
            data = None
        for i in indices:
            i = int(i)
            if i in broken:
                continue
            if data is not None:
                region = data[i - lo]
            else:
                try:
                    region = arr[i]
                except Exception as exc:
                    broken[i] = f"{name} chunk cannot be decoded ({type(exc).__name__}: {str(exc)[:200]})"
                    continue
            problem = _problem(name, region, fill)
            if problem:
                broken[i] = problem


def verify_store(path: str | os.PathLike, *, reset: bool = True, block: int = VERIFY_BLOCK) -> VerifyReport:
    """Check that every done model of a store holds readable, complete data; set broken ones back to
    pending.

    Parameters
    ----------
    path
        A gcs_hpc store.
    reset
        Set each broken model back to ``pending`` (``error`` says why) and clear its damaged chunks, so a
        campaign run computes it again. The store must be writable (checked first).
    block
        Models read at once.

    Returns
    -------
    VerifyReport

    Raises
    ------
    StoreError
        If the store cannot be opened, its status cannot be read, or it is not writable and broken
        models were found with ``reset``.
    """
    status = model_status(path)
    group = _open_group(path)
    done = np.flatnonzero(status == STATUS_DONE)
    report = VerifyReport(str(path), len(status), len(done))
    if not len(done):
        return report
    present = set(group.array_keys())
    for name in DATA_ARRAYS:
        if name in present:
            _check_array(_array(group, name), name, done, report.broken, max(1, int(block)))
    if report.broken and reset:
        check_writable(path)
        writable = _open_group(path, mode="r+")
        for index, why in sorted(report.broken.items()):
            _set_status(path, index, STATUS_PENDING, VERIFY_REASON + why)  # not done before data changes
            for name in DATA_ARRAYS:
                if name in present:
                    arr = writable[name]
                    arr[index] = arr.fill_value  # a chunk of fill values: zarr removes the file
        report.reset = True
    return report
