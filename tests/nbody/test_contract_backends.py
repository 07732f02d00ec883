"""Every registered gravity backend against the backend contract (tests/nbody/contract_backends.py)."""

from __future__ import annotations

from tests.nbody.contract_backends import GravityBackendContract


class TestGravityBackends(GravityBackendContract):
    """Generated from gcs_hpc.nbody.gravity.REGISTRY: one test per backend and array module."""
