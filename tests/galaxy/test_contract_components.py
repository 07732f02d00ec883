"""Every registered galaxy component against the component contract (tests/galaxy/contract_components.py)."""

from __future__ import annotations

from tests.galaxy.contract_components import ComponentContract


class TestComponents(ComponentContract):
    """Generated from gcs_hpc.galaxy.components.COMPONENTS: one test per component."""
