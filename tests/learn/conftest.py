"""Fixtures of the learn tests: small stores made with gcs_hpc.store, holding synthetic learnable maps.

The maps are not N-body maps: sigma scales as M_total^(1/3) (virial: sigma^2 ~ G M / R with R ~ M^(1/3))
times a radial profile, with 15% pixel noise and empty pixels; V is a noisy rotation pattern at a random
position angle. A net can learn the mass from them, a mean predictor cannot.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gcs_hpc.specs import PRESETS, GalaxySpec, MapSpec, MergerSpec, ModelSpec

REPO = Path(__file__).resolve().parents[2]
#: Fiducial dispersion at 1e12 Msun, km/s.
SIGMA_1E12_KMS = 150.0


def synthetic_specs(n_disk: int, n_merger: int, n_unknown: int, seed: int = 0) -> list[ModelSpec]:
    """Models with log-uniform halo masses 2e11..5e12 Msun; ``unknown`` ones are unequal-mass mergers."""
    rng = np.random.default_rng(seed)
    tiny = PRESETS["tiny"]
    specs = []
    for i in range(n_disk + n_merger + n_unknown):
        galaxy = GalaxySpec(M_halo=float(10 ** rng.uniform(11.3, 12.7)), f_rot=float(rng.uniform(0, 0.5)))
        if i < n_disk:
            specs.append(ModelSpec("disk", galaxy, tiny, seed=i))
        else:
            m2 = float(rng.uniform(0.5, 1.0)) if i < n_disk + n_merger else float(rng.uniform(0.2, 0.4))
            suite = "merger" if i < n_disk + n_merger else "unknown"
            specs.append(ModelSpec("merger", galaxy, tiny, seed=i, suite=suite,
                                   merger=MergerSpec(m2=m2, f_v=0.5)))
    return specs


def synthetic_maps(spec: ModelSpec, map_spec: MapSpec, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable (maps, counts) of one model: shapes (angle, 2, npix, npix) float32, (angle, npix, npix)."""
    rng = np.random.default_rng(seed)
    n, p = map_spec.n_angles, map_spec.npix
    c = (np.arange(p) - (p - 1) / 2) / (p / 2)
    x, y = np.meshgrid(c, c)
    r = np.hypot(x, y)
    amp = SIGMA_1E12_KMS * (spec.M_total / 1e12) ** (1 / 3)
    sigma = amp * (1.0 - 0.3 * r)[None] * (1.0 + 0.15 * rng.normal(size=(n, p, p)))
    pa = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    v = amp * spec.galaxy.f_rot * (x * np.cos(pa) + y * np.sin(pa)) + 10.0 * rng.normal(size=(n, p, p))
    counts = rng.poisson(3.0 * np.exp(-r), size=(n, p, p)).astype(np.int32)
    empty = counts == 0
    sigma[empty], v[empty] = map_spec.empty_fill, map_spec.empty_fill
    return np.stack([sigma, v], axis=1).astype(np.float32), counts


def build_store(path: Path, *, n_disk: int = 14, n_merger: int = 10, n_unknown: int = 6, n_angles: int = 16,
                failed: tuple[int, ...] = (), pending: tuple[int, ...] = (), seed: int = 0,
                map_spec: MapSpec | None = None) -> Path:
    """A store made with the store API; every model done except ``failed`` and ``pending`` indices
    (``map_spec``: default MapSpec(n_angles=n_angles))."""
    from gcs_hpc import store

    specs = synthetic_specs(n_disk, n_merger, n_unknown, seed)
    map_spec = MapSpec(n_angles=n_angles) if map_spec is None else map_spec
    store.create_store(path, specs, map_spec, f"# synthetic learn test store, seed {seed}\n")
    for i, spec in enumerate(specs):
        if i in failed:
            store.mark_failed(path, i, "synthetic failure for the learn tests")
        elif i not in pending:
            store.write_model(path, i, *synthetic_maps(spec, map_spec, seed * 1000 + i))
    return path


@pytest.fixture(scope="session")
def learn_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared small store: 14 disk, 10 merger, 6 unknown models, 16 angles; model 3 failed, 5 pending."""
    return build_store(tmp_path_factory.mktemp("learn") / "store.zarr", failed=(3,), pending=(5,))


@pytest.fixture(scope="session", autouse=True)
def _few_tensorflow_threads() -> None:
    """Keep TensorFlow in the test process to one thread each (the machine is small and shared)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised by an earlier test module
        pass


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on localhost."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("localhost", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _learn_env(**extra: str) -> dict[str, str]:
    """Environment of a subprocess running gcs_hpc from this checkout, TensorFlow quiet."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG" and not k.startswith("SLURM_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONWARNINGS"] = "ignore"
    env.update(extra)
    return env


def _start_train(args: list[str], **env: str) -> subprocess.Popen:
    """Start ``python -m gcs_hpc.learn.train`` with ``args`` (one TensorFlow thread)."""
    return subprocess.Popen([sys.executable, "-m", "gcs_hpc.learn.train", "--threads", "1", *args],
                            cwd=REPO, env=_learn_env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def free_ports():
    """Function ``n -> list of n free localhost ports``."""
    return _free_ports


@pytest.fixture
def start_train():
    """Function ``(args, **env) -> Popen`` of the train CLI in a subprocess (one TensorFlow thread)."""
    return _start_train


@pytest.fixture
def learn_env():
    """Function ``(**extra) -> environment`` of a subprocess running gcs_hpc from this checkout."""
    return _learn_env
