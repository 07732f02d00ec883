"""Helpers of the campaign tests: tiny plans and their stores (real physics, short runs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "models" / "tiny.yaml"
#: The fast CPU backend for tests (numba, compiled once per worker process and cached on disk).
TEST_BACKEND = "compiled"


def tiny_plan(n_models: int, **preset_overrides):
    """The plan of ``configs/models/tiny.yaml`` for ``n_models``, with preset overrides."""
    from gcs_hpc.campaign.config import PresetOverrides, load_campaign_config
    from gcs_hpc.campaign.plan import plan_campaign

    config = load_campaign_config(TINY_CONFIG)
    if preset_overrides:
        merged = {**{k: v for k, v in dataclasses.asdict(config.preset_overrides).items() if v is not None},
                  **preset_overrides}
        config = dataclasses.replace(config, preset_overrides=PresetOverrides(**merged))
    return plan_campaign(config, n_models)


def make_store(path: Path, plan) -> Path:
    from gcs_hpc.store import create_store

    create_store(path, plan.models, plan.map_spec, plan.config_yaml)
    return path
