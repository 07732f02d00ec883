"""The campaign stage of an experiment: build (or reuse) its store with gcs_hpc.campaign.

A store lives at ``<runs>/<scale>/stores/<campaign>.zarr`` beside the campaign config it was made from
(``<campaign>.yaml``) and the measured per-model run times (``<campaign>.timing.json``). A store that
exists is validated by :func:`gcs_hpc.store.create_store` (through :func:`gcs_hpc.campaign.request.open_store`):
the same config resumes its missing models, another config is refused with a StoreError.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from gcs_hpc.config import dump_yaml
from gcs_hpc.errors import StoreError
from gcs_hpc.experiments.spec import ExperimentSpec

#: Local dask cluster of the experiment campaigns (a ClusterConfig's keywords): the dashboard on any free
#: port (tests run side by side); backend and workers come from the experiment's scale.
CLUSTER = {"kind": "local", "dashboard_address": "127.0.0.1:0", "retries": 2,
           "local": {"threads_per_worker": 1, "processes": True}}


def store_paths(runs: Path, scale: str, campaign: str) -> dict[str, Path]:
    """Paths of a campaign's store, config and timing file."""
    base = Path(runs) / scale / "stores"
    return {"store": base / f"{campaign}.zarr", "config": base / f"{campaign}.yaml",
            "timing": base / f"{campaign}.timing.json"}


def build_store(spec: ExperimentSpec, scale: str, runs: Path, log: Callable[[str], None] = print) -> Path:
    """Run (or resume) the campaign of ``spec`` at ``scale``; return the store path.

    Per-model wall times measured by the farm are appended to the timing file.

    Raises
    ------
    StoreError
        If a store exists there made with another config (delete it or rename the campaign).
    """
    from gcs_hpc.campaign.cluster import ClusterConfig
    from gcs_hpc.campaign.config import config_from_mapping
    from gcs_hpc.campaign.progress import Progress
    from gcs_hpc.campaign.request import CampaignRequest, open_store, prepare, run

    sizes = spec.scale(scale)
    paths = store_paths(runs, scale, spec.campaign)
    paths["store"].parent.mkdir(parents=True, exist_ok=True)
    mapping = spec.campaign_mapping(scale)
    paths["config"].write_text(f"# campaign of experiment(s) sharing {spec.campaign!r}, scale {scale}\n"
                               + dump_yaml(mapping))  # a record beside the store; the request is typed
    cluster = ClusterConfig(**CLUSTER, backend=sizes.backend, workers=sizes.workers or None)
    request = CampaignRequest(store=paths["store"], n_models=sizes.n_models, cluster=cluster,
                              config=config_from_mapping(mapping, source=f"experiment {spec.name!r}"),
                              log_dir=paths["store"].parent / "logs", progress_interval_s=60.0)
    campaign = prepare(request)
    config, plan = campaign.config, campaign.plan
    try:
        pending = open_store(campaign.store, plan, None)
    except StoreError as exc:
        raise StoreError(f"experiment {spec.name!r}: {exc} (the store {str(paths['store'])!r} was made "
                         "with another config: delete it, or give the experiment another campaign name)"
                         ) from None
    if not pending:
        log(f"[{spec.name}] store {paths['store'].name}: all {plan.n_models} models done, reused")
        return paths["store"]
    log(f"[{spec.name}] campaign {spec.campaign!r}: running {len(pending)} of {plan.n_models} models "
        f"(preset {config.resolved_preset.name}, backend {cluster.backend}, {cluster.n_workers} workers)")
    progress = Progress(total=plan.n_models, already_done=plan.n_models - len(pending), interval_s=60.0,
                        interactive=False)
    t0 = time.perf_counter()
    report = run(campaign, pending=pending, progress=progress,
                 log=lambda text: log(f"[{spec.name}] {text}")).report
    timing = json.loads(paths["timing"].read_text()) if paths["timing"].is_file() else {"runs": []}
    timing["runs"].append({
        "wall_s": time.perf_counter() - t0, "workers": cluster.n_workers, "backend": cluster.backend,
        "preset": config.resolved_preset.name, "n_done": report.n_done, "n_failed": report.n_failed,
        "model_seconds": {str(k): v for k, v in report.model_seconds.items()},
        "kinds": {str(k): plan.models[k].kind for k in report.model_seconds},
        "n_particles": {str(k): _n_particles(plan.models[k]) for k in report.model_seconds},
        "failures": {str(k): v for k, v in report.failures.items()}})
    paths["timing"].write_text(json.dumps(timing, indent=1))
    if report.stopped:
        raise StoreError(f"experiment {spec.name!r}: campaign stopped after {report.n_failed} failed models "
                         f"(reasons in the store's 'error'); rerun to resume")
    return paths["store"]


def _n_particles(model) -> int:
    """Particles of a model (both galaxies of a merger; GCs included), from its preset."""
    p, g = model.preset, model.galaxy
    one = p.n_halo + p.n_disk + round(g.f_b * p.n_disk) + g.n_gc
    if model.merger is None:
        return int(one)
    return int(one + round(model.merger.m2 * (p.n_halo + p.n_disk + g.f_b * p.n_disk)) + max(1, round(
        model.merger.m2 * g.n_gc)))
