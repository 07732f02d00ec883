"""The contract of a gravity backend (:class:`gcs_hpc.nbody.gravity.GravityBackend`), checked for every
entry of :data:`gcs_hpc.nbody.gravity.REGISTRY` on every array module it accepts (CuPy variants are
marked ``gpu`` and skip without CuPy and a CUDA device).

- its field agrees with an exact softened sum written here, independently of the package's kernels, to
  the backend's own :attr:`~gcs_hpc.nbody.gravity.GravityBackend.force_tolerance` (median; the 99th
  percentile within 10 times it), potentials included;
- the total force of the sources on themselves vanishes (momentum is conserved) to that tolerance;
- a pickled backend (it travels to dask workers) gives bit-identical numbers;
- it is in the one backend list (:data:`gcs_hpc.backends.GRAVITY_BACKENDS`) with its array modules, and
  refuses a non-positive softening and array modules it does not accept, naming the setting.
"""

from __future__ import annotations

import pickle
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from gcs_hpc.backends import GRAVITY_BACKENDS
from gcs_hpc.errors import ConfigError
from gcs_hpc.nbody.gravity import REGISTRY, get_backend
from tests.contracts import RegistryContract
from tests.nbody.models import plummer_sphere

#: Plummer softening of the contract's sphere (simulation units, scale radius 1).
SOFTENING = 0.02
#: Massive particles and massless tracers of the sphere.
N_MASSIVE, N_TRACERS = 1500, 150
#: The 99th percentile of the relative force error may be this many times the median tolerance.
TAIL_FACTOR = 10.0
#: Floor of the total-force check: float64 rounding of sums over ~1e3 particles.
ROUNDING = 1.0e-12


def exact_field(targets: np.ndarray, pos: np.ndarray, mass: np.ndarray, eps: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Plummer-softened acceleration and potential at ``targets`` (G = 1): the whole pair matrix at once,
    written without :mod:`gcs_hpc.nbody.kernels` (a target on a source gets the self term -m/eps)."""
    d = pos[None, :, :] - targets[:, None, :]
    r2 = np.sum(d * d, axis=-1) + eps * eps
    inv_r = 1.0 / np.sqrt(r2)
    acc = np.einsum("ij,ijk->ik", mass[None, :] * inv_r**3, d)
    return acc, -(inv_r @ mass)


def relative_errors(acc: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|a - a_ref| / |a_ref| per target."""
    return np.linalg.norm(acc - ref, axis=1) / np.linalg.norm(ref, axis=1)


class GravityBackendContract(RegistryContract):
    """Checks every registered gravity backend must pass (one test per backend and array module)."""

    registry = REGISTRY

    @classmethod
    def variants(cls, name: str) -> list[tuple[str, dict[str, Any]]]:
        return [(module, {"xp": module}) for module in cls.registry[name].array_modules]

    @classmethod
    def marks(cls, name: str, settings: dict[str, Any]) -> list[pytest.MarkDecorator]:
        return [pytest.mark.gpu] if settings["xp"] == "cupy" else []

    @pytest.fixture
    def xp(self, settings: dict[str, Any]) -> ModuleType:
        if settings["xp"] == "numpy":
            return np
        from gcs_hpc.xp import has_cupy

        cupy = pytest.importorskip("cupy")
        if not has_cupy():
            pytest.skip("gpu test: no CuPy/CUDA device on this machine")
        return cupy

    @pytest.fixture(scope="class")
    def sphere(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(targets: massive particles then tracers, source positions, source masses)."""
        p = plummer_sphere(N_MASSIVE, seed=11, n_tracers=N_TRACERS)
        massive = p.mass > 0
        return p.pos, p.pos[massive], p.mass[massive]

    @staticmethod
    def _field(backend: Any, xp: ModuleType, targets: np.ndarray, pos: np.ndarray, mass: np.ndarray,
               potential: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        acc, phi = backend.accelerations(xp.asarray(targets), xp.asarray(pos), xp.asarray(mass), SOFTENING,
                                         potential=potential)
        back = getattr(xp, "asnumpy", np.asarray)
        return back(acc), (None if phi is None else back(phi))

    def test_field_matches_the_exact_sum_at_its_tolerance(self, name, xp, sphere):
        targets, pos, mass = sphere
        backend = get_backend(name, xp=xp)
        tol = type(backend).force_tolerance
        ref_acc, ref_phi = exact_field(targets, pos, mass, SOFTENING)
        acc, phi = self._field(backend, xp, targets, pos, mass)
        rel = relative_errors(acc, ref_acc)
        assert np.median(rel) <= tol, f"{name}: median relative force error {np.median(rel):.2e} > {tol:g}"
        assert np.percentile(rel, 99) <= TAIL_FACTOR * tol
        assert np.median(np.abs(phi / ref_phi - 1.0)) <= tol

    def test_total_force_of_the_sources_vanishes(self, name, xp, sphere):
        _, pos, mass = sphere
        backend = get_backend(name, xp=xp)
        acc, _ = self._field(backend, xp, pos, pos, mass, potential=False)
        total = np.abs(np.sum(mass[:, None] * acc, axis=0))
        scale = np.sum(mass[:, None] * np.abs(acc), axis=0)
        assert np.all(total <= max(type(backend).force_tolerance, ROUNDING) * scale), total / scale

    def test_a_pickled_backend_gives_the_same_numbers(self, name, xp, sphere):
        targets, pos, mass = sphere
        backend = get_backend(name, xp=xp)
        copy = pickle.loads(pickle.dumps(backend))
        assert type(copy) is type(backend) and copy.xp is xp
        first, second = (self._field(b, xp, targets[:200], pos, mass) for b in (backend, copy))
        assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])

    def test_listed_once_with_its_array_modules(self, name, xp):
        cls = self.registry[name]
        assert cls.name == name and GRAVITY_BACKENDS[name].array_modules == tuple(cls.array_modules)
        assert isinstance(get_backend(name, xp=xp), cls)
        if "numpy" not in cls.array_modules:
            with pytest.raises(ConfigError, match=rf"gravity\[{name}\]\.xp = 'numpy' is not allowed"):
                get_backend(name, xp=np)

    @pytest.mark.parametrize("softening", [0.0, -0.1])
    def test_refuses_a_non_positive_softening(self, name, xp, sphere, softening):
        targets, pos, mass = sphere
        with pytest.raises(ConfigError, match=rf"gravity\[{name}\]\.softening = {softening}"):
            get_backend(name, xp=xp).accelerations(xp.asarray(targets[:5]), xp.asarray(pos[:5]),
                                                   xp.asarray(mass[:5]), softening)
