"""The contracts are generated from the registries: every registered backend, component and estimator is
checked, and a newly registered one is checked with no edit to any test (tests/contracts.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gcs_hpc.galaxy.components import COMPONENTS
from gcs_hpc.nbody.gravity import REGISTRY
from gcs_hpc.observe.estimators import ESTIMATORS
from tests.galaxy.contract_components import ComponentContract
from tests.nbody.contract_backends import GravityBackendContract
from tests.observe.contract_estimators import MassEstimatorContract

REPO = Path(__file__).resolve().parents[1]

#: A test module written by the test below: it registers throwaway members of all three registries
#: (a correct copy of the direct sum, a backend with a spurious net force, an estimator, a component)
#: and subclasses the contracts, as a new test file would.
THROWAWAY_MODULE = '''
import numpy as np

from gcs_hpc.backends import GRAVITY_BACKENDS, BackendInfo
from gcs_hpc.galaxy.components import NFWHalo, register_component
from gcs_hpc.nbody.gravity import register
from gcs_hpc.nbody.gravity.direct import DirectBackend, DirectField
from gcs_hpc.observe.estimators import ESTIMATORS, ProjectedMassEstimator
from tests.galaxy.contract_components import ComponentContract
from tests.nbody.contract_backends import GravityBackendContract
from tests.observe.contract_estimators import MassEstimatorContract

GRAVITY_BACKENDS["throwaway"] = BackendInfo("throwaway", ("numpy",), "a test's copy of direct")
GRAVITY_BACKENDS["leaky"] = BackendInfo("leaky", ("numpy",), "direct plus a net force along x")


@register
class Throwaway(DirectBackend):
    name = "throwaway"
    array_modules = ("numpy",)


class LeakyField(DirectField):
    def at(self, target_pos, *, potential=False):
        acc, phi = super().at(target_pos, potential=potential)
        acc[:, 0] += 1e-3 * np.abs(acc).mean()
        return acc, phi


@register
class Leaky(DirectBackend):
    name = "leaky"
    array_modules = ("numpy",)

    def prepare(self, source_pos, source_mass, softening):
        return LeakyField(self.xp, source_pos, source_mass, softening, self.max_pairs)


class ThrowawayEstimator(ProjectedMassEstimator):
    name = "throwaway"


ESTIMATORS["throwaway"] = ThrowawayEstimator


@register_component
class CoredHalo(NFWHalo):
    name = "cored_halo"
    code = 99


class TestBackends(GravityBackendContract):
    pass


class TestEstimators(MassEstimatorContract):
    pass


class TestComponents(ComponentContract):
    pass
'''


@pytest.mark.parametrize("contract, registry", [(GravityBackendContract, REGISTRY),
                                                (ComponentContract, COMPONENTS),
                                                (MassEstimatorContract, ESTIMATORS)])
def test_generated_ids_are_the_registry_keys(contract, registry):
    ids = [param.id for param in contract.params()]
    assert {i.split("-")[0] for i in ids} == set(registry) and len(ids) == len(set(ids))
    if contract is GravityBackendContract:  # one variant per array module the backend accepts
        assert sorted(ids) == sorted(f"{name}-{xp}" for name, cls in registry.items()
                                     for xp in cls.array_modules)
    else:
        assert ids == list(registry)


def _pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


def test_a_newly_registered_member_gets_the_contract_and_a_broken_one_fails_it(tmp_path):
    module = tmp_path / "test_throwaway.py"
    module.write_text(textwrap.dedent(THROWAWAY_MODULE))
    collected = _pytest(["--collect-only", str(module)], tmp_path)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    ids = collected.stdout
    for test in ("test_field_matches_the_exact_sum_at_its_tolerance",
                 "test_total_force_of_the_sources_vanishes", "test_a_pickled_backend_gives_the_same_numbers"):
        assert f"TestBackends::{test}[throwaway-numpy]" in ids and f"TestBackends::{test}[leaky-numpy]" in ids
    assert "TestEstimators::test_exact_on_its_analytic_case[throwaway]" in ids
    assert "TestComponents::test_enclosed_mass_is_the_integral_of_the_density[cored_halo]" in ids
    assert "[tree-numpy]" in ids and "[virial]" in ids and "[disk]" in ids  # the registered ones still

    run = _pytest(["-rA", "-k", "TestBackends and (throwaway or leaky)", str(module)], tmp_path)
    lines = run.stdout.splitlines()
    passed = {line.split("::")[-1] for line in lines if line.startswith("PASSED")}
    failed = {line.split("::")[-1].split(" ")[0] for line in lines if line.startswith("FAILED")}
    assert "test_field_matches_the_exact_sum_at_its_tolerance[throwaway-numpy]" in passed, run.stdout
    assert "test_total_force_of_the_sources_vanishes[throwaway-numpy]" in passed
    assert not any("throwaway" in name for name in failed), run.stdout
    assert failed == {"test_field_matches_the_exact_sum_at_its_tolerance[leaky-numpy]",
                      "test_total_force_of_the_sources_vanishes[leaky-numpy]"}, run.stdout
