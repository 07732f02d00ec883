"""The campaign stage of an experiment: build (or reuse) its store with gcs_hpc.campaign.

A store lives at ``<runs>/<scale>/stores/<campaign>.zarr`` beside the campaign config it was made from
(``<campaign>.yaml``) and the measured per-model run times (``<campaign>.timing.json``). A store that
exists is validated by :func:`gcs_hpc.store.create_store` (through the campaign CLI's ``open_store``):
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

#: Local dask cluster of the experiment campaigns: the dashboard on a free port (tests run side by side).
CLUSTER_YAML = """\
# Written by gcs_hpc.experiments: a local dask cluster, dashboard on any free port.
kind: local
backend: auto
dashboard_address: "127.0.0.1:0"
retries: 2
local: {threads_per_worker: 1, processes: true}
"""


def store_paths(runs: Path, scale: str, campaign: str) -> dict[str, Path]:
    """Paths of a campaign's store, config and timing file."""
    base = Path(runs) / scale / "stores"
    return {"store": base / f"{campaign}.zarr", "config": base / f"{campaign}.yaml",
            "timing": base / f"{campaign}.timing.json", "cluster": base / "cluster.yaml"}


def build_store(spec: ExperimentSpec, scale: str, runs: Path, log: Callable[[str], None] = print) -> Path:
    """Run (or resume) the campaign of ``spec`` at ``scale``; return the store path.

    Per-model wall times measured by the farm are appended to the timing file.

    Raises
    ------
    StoreError
        If a store exists there made with another config (delete it or rename the campaign).
    """
    from gcs_hpc.campaign.__main__ import build_parser, open_store, prepare
    from gcs_hpc.campaign.farm import run_farm
    from gcs_hpc.campaign.progress import Progress

    sizes = spec.scale(scale)
    paths = store_paths(runs, scale, spec.campaign)
    paths["store"].parent.mkdir(parents=True, exist_ok=True)
    paths["config"].write_text(f"# campaign of experiment(s) sharing {spec.campaign!r}, scale {scale}\n"
                               + dump_yaml(spec.campaign_mapping(scale)))
    paths["cluster"].write_text(CLUSTER_YAML)
    argv = ["--config", str(paths["config"]), "--store", str(paths["store"]), "--n-models",
            str(sizes.n_models), "--backend", sizes.backend, "--cluster", str(paths["cluster"]),
            "--progress-interval", "60", "--log-dir", str(paths["store"].parent / "logs")]
    if sizes.workers:
        argv += ["--workers", str(sizes.workers)]
    args = build_parser().parse_args(argv)
    config, cluster, plan, max_failures = prepare(args)
    try:
        pending = open_store(paths["store"], plan, None)
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
    report = run_farm(plan, paths["store"], cluster, pending, max_failures=max_failures, progress=progress,
                      log=log, log_directory=paths["store"].parent / "logs" / "workers")
    progress.close()
    log(f"[{spec.name}] {progress.summary()}")
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
