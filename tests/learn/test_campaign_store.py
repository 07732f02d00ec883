"""End to end on a real store: python -m gcs_hpc.campaign (tiny config) -> train -> evaluate.

Slow (about a minute on an idle 2-core machine, ~3 when it is loaded): 16 tiny N-body models with 4
viewing angles each. The maps are not science-grade (tiny preset, short runs), but the GC velocity
dispersion already tracks the mass, so a net must beat the mean on galaxies it never saw.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gcs_hpc.learn import data, evaluate, train

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_net_trained_on_a_campaign_store_beats_the_mean(tmp_path: Path, learn_env) -> None:
    store_path = tmp_path / "campaign.zarr"
    cmd = [sys.executable, "-m", "gcs_hpc.campaign", "--config", str(REPO / "configs/models/tiny.yaml"),
           "--n-models", "16", "--store", str(store_path), "--workers", "2", "--progress-interval", "60"]
    proc = subprocess.run(cmd, cwd=REPO, env=learn_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ds = data.open_store(store_path)
    assert len(data.done_models(ds)) >= 14
    cfg = train.TrainConfig(store=str(store_path), arch="conv2", channels=2, epochs=40, batch_size=8,
                            out=str(tmp_path / "net"), seed=0)
    train.train(cfg, log=lambda _m: None)
    m = evaluate.evaluate(store_path, tmp_path / "net", tmp_path / "eval")
    assert m["split"]["kind"] == "model" and m["n_models"] >= 3
    base = m["baseline_mean"]
    assert m["rmse"] < 0.8 * base["rmse"] and m["scatter_dex"] < base["scatter_dex"], json.dumps(m)
