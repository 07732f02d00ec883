"""Benchmark: the campaign farm's overhead and scaling, and the projected wall time of a real campaign.

Four figures, each beside its baseline measured in the same run:

1. Farm overhead: K tiny models on a LocalCluster with one worker process; the seconds the farm spends per
   model outside the model's own run (submission, scheduling, transfer, store bookkeeping, result
   collection) = (farm wall time - sum of the models' run times on the worker) / K, as a fraction of one
   model's run time (target < 1 %). Baseline: the same models run serially in this process.
2. Scaling: the same K models on 1 and on 2 worker processes (target >= 1.7x on 2 cores; CPU-bound models,
   one thread each). Noisy when other work shares the machine: the load average is printed.
3. Projection for ``--n-models 2000`` with the quick preset on this machine: seconds per step and time step
   of a quick disk and a quick merger measured here (short runs), scaled to the preset's t_end, times the
   suite mix of the default config, divided over this machine's cores, plus the measured farm overhead.
4. Projection for the paper preset per GPU: the same step counts rescaled to the paper softening
   (dt ~ softening^1.5 for a softening-limited time step) and a direct-sum GPU throughput of
   ``--gpu-interactions-per-s`` (an assumption: no GPU here; 1.5e12 float32 pair interactions per second is
   what a tiled float4 kernel like gcs_hpc.nbody's reaches on an H100-class card).

Usage: ``python benchmarks/farm.py [--models 6] [--t-end 0.4] [--quick-t-end 0.1]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gcs_hpc.campaign.cluster import ClusterConfig, available_cores, start_cluster  # noqa: E402
from gcs_hpc.campaign.config import DEFAULT_CONFIG, PresetOverrides, load_campaign_config  # noqa: E402
from gcs_hpc.campaign.farm import farm_models  # noqa: E402
from gcs_hpc.campaign.plan import plan_campaign  # noqa: E402
from gcs_hpc.campaign.run_model import timed_run_model  # noqa: E402
from gcs_hpc.specs import PRESETS  # noqa: E402
from gcs_hpc.store import create_store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BACKEND = "compiled"


def tiny_plan(n: int, t_end: float):
    config = load_campaign_config(REPO / "configs" / "models" / "tiny.yaml")
    overrides = PresetOverrides(t_end_disk=t_end, t_end_merger=t_end)
    config = dataclasses.replace(config, preset_overrides=overrides)
    return plan_campaign(config, n)


def new_store(plan, folder: str, name: str) -> str:
    path = str(Path(folder) / name)
    create_store(path, plan.models, plan.map_spec, plan.config_yaml)
    return path


def farm_run(plan, folder: str, workers: int, tag: str) -> tuple[float, float]:
    """Farm every model of ``plan`` on ``workers`` processes (warmed up first); (wall, sum of model s)."""
    from distributed import Client

    config = ClusterConfig(kind="local", workers=workers, dashboard_address="127.0.0.1:0",
                           local={"threads_per_worker": 1, "processes": True})
    with start_cluster(config) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        warm = new_store(plan, folder, f"warm-{tag}.zarr")  # imports and numba caches on every worker
        futures = [client.submit(timed_run_model, warm, i % plan.n_models, plan.models[i % plan.n_models],
                                 plan.map_spec, BACKEND, pure=False, workers=[w])
                   for i, w in enumerate(client.scheduler_info()["workers"])]
        client.gather(futures)
        store = new_store(plan, folder, f"farm-{tag}.zarr")
        report = farm_models(client, plan, store, list(range(plan.n_models)), backend=BACKEND,
                             max_failures=None)
    assert report.n_done == plan.n_models, report.failures
    return report.wall_s, sum(report.model_seconds.values())


def quick_step_costs(t_short: float) -> dict[str, tuple[float, float, int]]:
    """Seconds per step, time step and particle number of a quick disk and a quick merger (short runs)."""
    from gcs_hpc.galaxy import build_model
    from gcs_hpc.nbody import evolve
    from gcs_hpc.units import kpc_to_sim

    plan = plan_campaign(DEFAULT_CONFIG, 20)
    picks = {"disk": plan.models[0], "merger": plan.models[plan.suite_indices()["merger"][0]]}
    out = {}
    for kind, spec in picks.items():
        particles = build_model(spec)
        result = evolve(particles, t_end=t_short, softening=kpc_to_sim(spec.preset.softening_kpc),
                        backend="auto", energy_tolerance=1.0)
        stats = result.stats
        out[kind] = (stats["wall_s"] / stats["steps"], stats["dt"], stats["n"])
        print(f"  quick {kind:6s}: N = {stats['n']:6d}, backend {stats['backend']}, dt = {stats['dt']:.4f}, "
              f"{stats['wall_s'] / stats['steps']:.3f} s/step ({stats['steps']} steps)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=6, help="tiny models per farm run (default 6)")
    parser.add_argument("--t-end", type=float, default=0.4, help="tiny models' t_end (default 0.4)")
    parser.add_argument("--quick-t-end", type=float, default=0.1,
                        help="length of the quick-preset timing runs (default 0.1)")
    parser.add_argument("--gpu-interactions-per-s", type=float, default=1.5e12,
                        help="assumed direct-sum pair interactions per second on one GPU (default 1.5e12)")
    args = parser.parse_args()
    print(f"machine: {available_cores()} cores, load average {os.getloadavg()[0]:.1f} at start")
    plan = tiny_plan(args.models, args.t_end)
    with tempfile.TemporaryDirectory() as folder:
        serial_store = new_store(plan, folder, "serial.zarr")
        timed_run_model(serial_store, 0, plan.models[0], plan.map_spec, BACKEND)  # warm-up (numba cache)
        serial_store = new_store(plan, folder, "serial2.zarr")
        start = time.perf_counter()
        serial = [timed_run_model(serial_store, i, plan.models[i], plan.map_spec, BACKEND)[2]
                  for i in range(plan.n_models)]
        serial_wall = time.perf_counter() - start
        per_model = serial_wall / plan.n_models
        wall_1, model_s_1 = farm_run(plan, folder, 1, "1")
        wall_2, _ = farm_run(plan, folder, 2, "2")
    overhead = (wall_1 - model_s_1) / plan.n_models
    print(f"\n1. farm overhead ({plan.n_models} tiny models, t_end {args.t_end}, one worker)")
    print(f"   baseline, serial in this process: {serial_wall:7.2f} s ({per_model:.2f} s per model)")
    print(f"   farm, 1 worker: wall           {wall_1:7.2f} s; models' own run time {model_s_1:.2f} s")
    share = 100 * overhead / (model_s_1 / plan.n_models)
    print(f"   overhead per model: {overhead * 1e3:.1f} ms = {share:.2f} % "
          "of a model's run time (target < 1 %)")
    print(f"   farm wall / serial wall: {wall_1 / serial_wall:.3f}")
    print("\n2. scaling on this machine (same models)")
    print(f"   1 worker {wall_1:.2f} s, 2 workers {wall_2:.2f} s: speed-up {wall_1 / wall_2:.2f}x "
          "(target >= 1.7x); "
          f"load average now {os.getloadavg()[0]:.1f}")

    print(f"\n3. projected --n-models 2000, quick preset, this machine ({available_cores()} cores)")
    costs = quick_step_costs(args.quick_t_end)
    preset = DEFAULT_CONFIG.resolved_preset
    counts = DEFAULT_CONFIG.suite_counts(2000)
    n_merger = counts["merger"] + counts["unknown"]
    disk_s = costs["disk"][0] * preset.t_end_disk / costs["disk"][1]
    merger_s = costs["merger"][0] * preset.t_end_merger / costs["merger"][1]
    efficiency = min(1.0, (wall_1 / wall_2) / 2.0) if available_cores() >= 2 else 1.0
    total_cpu = counts["disk"] * disk_s + n_merger * merger_s
    ideal = total_cpu / available_cores() * (1.0 + overhead / per_model)
    wall = ideal / efficiency
    print(f"   one quick disk ~ {disk_s / 60:.1f} min (t_end {preset.t_end_disk}), one quick merger ~ "
          f"{merger_s / 60:.1f} min (t_end {preset.t_end_merger})")
    mean_quick = total_cpu / 2000
    print(f"   farm overhead measured above ({overhead * 1e3:.0f} ms per model) = "
          f"{100 * overhead / mean_quick:.3f} % of a mean quick model ({mean_quick / 60:.1f} min)")
    print(f"   {counts['disk']} disks + {n_merger} mergers = {total_cpu / 3600:.0f} core-hours; on "
          f"{available_cores()} cores: ~{ideal / 3600:.0f} h ({ideal / 86400:.1f} days) at full scaling, "
          f"~{wall / 3600:.0f} h at the scaling efficiency measured now ({efficiency:.2f})")

    print("\n4. projected paper preset per GPU (assumption, no GPU here)")
    paper = PRESETS["paper"]
    dt_scale = (paper.softening_kpc / preset.softening_kpc) ** 1.5
    rate = args.gpu_interactions_per_s
    n_disk = paper.n_halo + paper.n_disk * 1.5  # + bulge (f_b ~ 0.5 on average in the default ranges)
    n_merger_particles = n_disk * (1 + 0.65)  # mean m2 of the merger suites ~ 0.65
    disk_gpu = n_disk ** 2 / rate * preset.t_end_disk / (costs["disk"][1] * dt_scale)
    merger_gpu = n_merger_particles ** 2 / rate * preset.t_end_merger / (costs["merger"][1] * dt_scale)
    total_gpu = counts["disk"] * disk_gpu + n_merger * merger_gpu
    print(f"   steps: quick dt x (0.32/0.7)^1.5 = x{dt_scale:.2f}; N ~ {n_disk:.2e} (disk), "
          f"{n_merger_particles:.2e} (merger); {rate:.1e} interactions/s per GPU")
    print(f"   one paper disk ~ {disk_gpu / 3600:.1f} GPU-h, one paper merger ~ "
          f"{merger_gpu / 3600:.1f} GPU-h; "
          f"2000 models ~ {total_gpu / 3600:.0f} GPU-hours (~{total_gpu / 86400:.0f} days on one GPU, "
          f"~{total_gpu / 86400 / 64:.1f} days on 64)")


if __name__ == "__main__":
    main()
