"""Learning: the paper's CNNs trained from the zarr store, single and multi-worker, and their evaluation.

TensorFlow is imported lazily, only by the functions that need it (:func:`require_tensorflow`), so that
``import gcs_hpc.learn`` and the pure-NumPy parts (splits, label mapping, metrics) work without it.

Modules
-------
nets
    The 2-conv and 4-conv networks of Kaur et al. (2021), section 2.2.
data
    Lazy zarr -> ``tf.data`` input pipeline, splits by model / image / suite (model and image splits
    optionally restricted to some campaign suites), noise augmentation.
cluster
    The multi-worker cluster spec from the SLURM step environment or ``TF_CONFIG``.
train
    Single and multi-worker training (custom loop under ``MultiWorkerMirroredStrategy``), checkpoints.
evaluate
    The paper's metrics (accuracy, MAE, RMSE) plus errors in dex, and figures 5 to 7.
predict
    Load a trained model and predict masses in Msun for maps.
"""

from __future__ import annotations

import contextlib
import os
import sys
from types import ModuleType
from typing import Iterator

__all__ = ["require_tensorflow", "require_keras"]

_HINT = ("gcs_hpc.learn needs TensorFlow (and Keras 3): pip install 'tensorflow-cpu>=2.18,<2.22' "
         "(or 'tensorflow' on GPU nodes)")


def require_tensorflow() -> ModuleType:
    """Import and return ``tensorflow``; raise ImportError with an install hint when it is missing.

    TensorFlow's start-up INFO lines (oneDNN, cpu_feature_guard, absl) are kept off the terminal unless
    the user asks for them with ``TF_CPP_MIN_LOG_LEVEL=0`` (or 1): the level defaults to 2 (warnings
    and errors), and at that level what the C++ libraries print while loading is discarded.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    quiet = os.environ["TF_CPP_MIN_LOG_LEVEL"].strip() not in ("0", "1")
    try:
        with _stderr_discarded(quiet):
            import tensorflow as tf
    except ImportError as exc:  # pragma: no cover - TensorFlow is installed here
        raise ImportError(f"{_HINT} ({exc})") from exc
    return tf


@contextlib.contextmanager
def _stderr_discarded(active: bool) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null inside the block (the C++ libraries write there directly,
    before absl's logging is set up, whatever TF_CPP_MIN_LOG_LEVEL says); Python exceptions still rise."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def require_keras() -> ModuleType:
    """Import and return ``keras`` (Keras 3 on the TensorFlow backend); friendly error when missing."""
    require_tensorflow()
    try:
        import keras
    except ImportError as exc:  # pragma: no cover
        raise ImportError(f"{_HINT} ({exc})") from exc
    return keras
