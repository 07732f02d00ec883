"""Train/test splits of a store's done models and worker shards (see :mod:`gcs_hpc.learn.data` for the
split kinds ``model``, ``image`` and ``suite``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from gcs_hpc.config import check_choice, check_range
from gcs_hpc.errors import ConfigError
from gcs_hpc.store.read import done_models, string_coord

SPLITS = ("model", "image", "suite")
#: Suites trained on and tested on by the ``suite`` split.
TRAIN_SUITES = ("disk", "merger")
TEST_SUITE = "unknown"


def check_suites(suites: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Normalise a suite filter: ``None`` (every suite), a comma-separated string or names -> a tuple of
    distinct, non-empty names in the given order; raises ConfigError otherwise."""
    if suites is None:
        return None
    names = [n.strip() for n in suites.split(",")] if isinstance(suites, str) else [str(n) for n in suites]
    if not names or any(not n for n in names):
        raise ConfigError(f"learn.suites = {suites!r}: needs one or more non-empty suite names "
                          "(e.g. 'disk,merger'), or none to use every suite")
    if len(set(names)) != len(names):
        raise ConfigError(f"learn.suites = {suites!r} names a suite twice")
    return tuple(names)


def images_of(models: np.ndarray, n_angles: int) -> np.ndarray:
    """All images of ``models``: (model, angle) rows, angles 0..n_angles-1 of each model in turn."""
    models = np.asarray(models, dtype=np.int64)
    return np.stack([np.repeat(models, n_angles), np.tile(np.arange(n_angles), len(models))], axis=1)


@dataclass(frozen=True)
class Split:
    """Train and test images of a store: arrays of (model index, angle index) rows."""

    kind: str
    train: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)
    seed: int = 0
    test_fraction: float = 0.2
    suites: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_choice("learn", "split", self.kind, SPLITS)
        object.__setattr__(self, "suites", check_suites(self.suites))

    def models(self, which: str) -> np.ndarray:
        """Sorted unique model indices of the ``"train"`` or ``"test"`` images."""
        check_choice("split", "which", which, ("train", "test"))
        return np.unique(getattr(self, which)[:, 0])

    def describe(self) -> dict:
        """JSON-serialisable summary (stored with a trained model so evaluation re-makes the split)."""
        return {"kind": self.kind, "seed": self.seed, "test_fraction": self.test_fraction,
                "suites": None if self.suites is None else list(self.suites),
                "n_train_images": int(len(self.train)), "n_test_images": int(len(self.test)),
                "n_train_models": int(len(self.models("train"))),
                "n_test_models": int(len(self.models("test")))}


def select_suites(ds: Any, models: np.ndarray, suites: Sequence[str] | str | None) -> np.ndarray:
    """The ``models`` (indices) of the store ``ds`` whose suite is in ``suites`` (None: all of them).

    Raises ConfigError, listing the store's suites, when a named suite is not in the store.
    """
    suites = check_suites(suites)
    if suites is None:
        return np.asarray(models, dtype=np.int64)
    suite = string_coord(ds, "suite")
    present = sorted(set(suite.tolist()))
    missing = [n for n in suites if n not in present]
    if missing:
        raise ConfigError(f"learn.suites names {missing}, not in this store; allowed: {present}")
    models = np.asarray(models, dtype=np.int64)
    return models[np.isin(suite[models], suites)]


def make_split(ds: Any, kind: str = "model", test_fraction: float = 0.2, seed: int = 0,
               suites: Sequence[str] | str | None = None) -> Split:
    """Split the done models' images of the store ``ds`` into train and test sets (see module doc);
    ``suites`` restricts both sets of the ``model`` and ``image`` splits to those suites."""
    check_choice("learn", "split", kind, SPLITS)
    check_range("learn", "test_fraction", test_fraction, 0.0, 1.0, low_open=True, high_open=True)
    check_range("learn", "seed", seed, 0, 2**32 - 1)
    suites = check_suites(suites)
    if kind == "suite" and suites is not None:
        raise ConfigError(f"learn.suites = {','.join(suites)!r} applies to the 'model' and 'image' splits; "
                          f"the 'suite' split always trains on {'+'.join(TRAIN_SUITES)} and tests on "
                          f"{TEST_SUITE!r}")
    done = select_suites(ds, done_models(ds), suites)
    n_angles = int(ds.sizes["angle"])
    rng = np.random.default_rng(seed)
    if kind == "suite":
        suite = string_coord(ds, "suite")[done]
        train_m, test_m = done[np.isin(suite, TRAIN_SUITES)], done[suite == TEST_SUITE]
        train, test = images_of(train_m, n_angles), images_of(test_m, n_angles)
    elif kind == "model":
        perm = rng.permutation(done)
        n_test = int(round(test_fraction * len(done)))
        train = images_of(np.sort(perm[n_test:]), n_angles)
        test = images_of(np.sort(perm[:n_test]), n_angles)
    else:
        images = images_of(done, n_angles)
        perm = rng.permutation(len(images))
        n_test = int(round(test_fraction * len(images)))
        train, test = images[np.sort(perm[n_test:])], images[np.sort(perm[:n_test])]
    if len(train) == 0 or len(test) == 0:
        raise ConfigError(f"split {kind!r} leaves {len(train)} training and {len(test)} test images "
                          f"from {len(done)} done models"
                          + ("" if suites is None else f" of suites {list(suites)}")
                          + "; need at least one of each")
    return Split(kind, train, test, seed, test_fraction, suites)


def shard_images(images: np.ndarray, worker: int, n_workers: int) -> np.ndarray:
    """The images of worker ``worker``: those of every ``n_workers``-th model (models never shared)."""
    check_range("learn", "worker", worker, 0, n_workers - 1)
    models = np.unique(images[:, 0])
    mine = models[worker::n_workers]
    return images[np.isin(images[:, 0], mine)]


def steps_per_epoch(images: np.ndarray, n_workers: int, batch_size: int) -> int:
    """Batches every worker runs per epoch: the smallest shard's full batches (equal for all workers, as
    the collective all-reduce needs)."""
    steps = min(len(shard_images(images, w, n_workers)) // batch_size for w in range(n_workers))
    if steps < 1:
        raise ConfigError(f"learn.batch_size = {batch_size} is larger than the smallest worker shard "
                          f"({min(len(shard_images(images, w, n_workers)) for w in range(n_workers))} "
                          f"images over {n_workers} workers); use a smaller batch or fewer workers")
    return steps
