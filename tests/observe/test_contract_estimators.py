"""Every registered mass estimator against the estimator contract (tests/observe/contract_estimators.py)."""

from __future__ import annotations

from tests.observe.contract_estimators import MassEstimatorContract


class TestMassEstimators(MassEstimatorContract):
    """Generated from gcs_hpc.observe.estimators.ESTIMATORS: one test per estimator."""
