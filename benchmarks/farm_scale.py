"""Benchmark: the campaign farm at scale on the local SLURM -- overhead per model and scheduler memory.

N micro models (configs/models/micro.yaml: 200 particles, one viewing angle; the farm's cost, not physics)
on J one-core SLURM worker jobs (dask-jobqueue SLURMCluster, TLS on, as in production), run twice on the
same warm workers:

1. windowed (the campaign's farm: at most 2 tasks per worker thread in flight, topped up as models finish);
2. baseline, unwindowed (every model submitted at once, as before the window), same models.

For each: wall time, the models' own run time, the farm's overhead per model (worker-slot seconds not spent
inside a model: wall x threads / N - mean model time), the scheduler's CPU seconds per model, the tasks it
held at most and its resident memory (RSS; the scheduler runs in this process with the client). A serial
run of the same models in this process is the per-model baseline. From these: the scheduler's load for
2000 models on 100 nodes.

Needs the local SLURM (.ci/slurm-up, as root). Noisy on a shared 2-core machine: compare the ratios.
Usage: ``python benchmarks/farm_scale.py [--models 200] [--jobs 4] [--cores-per-node 32]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DASK_CONFIG", tempfile.mkdtemp(prefix="gcs_hpc_dask_config_"))

from gcs_hpc.campaign.cluster import load_cluster_config, start_cluster  # noqa: E402
from gcs_hpc.campaign.config import load_campaign_config  # noqa: E402
from gcs_hpc.campaign.farm import farm_models, submission_window  # noqa: E402
from gcs_hpc.campaign.monitor import SchedulerMonitor  # noqa: E402
from gcs_hpc.campaign.plan import plan_campaign  # noqa: E402
from gcs_hpc.campaign.run_model import timed_run_model  # noqa: E402
from gcs_hpc.store import create_store  # noqa: E402

BACKEND = "compiled"
MiB = 2**20


def new_store(plan, folder: Path, name: str) -> Path:
    path = folder / name
    create_store(path, plan.models, plan.map_spec, plan.config_yaml)
    return path


def farm(client, plan, store: Path, window: int, threads: int) -> dict[str, float]:
    with SchedulerMonitor(client, interval_s=0.1) as monitor:
        report = farm_models(client, plan, store, list(range(plan.n_models)), backend=BACKEND,
                             max_failures=None, window=window)
    after = monitor.wait_until_idle()
    assert report.n_done == plan.n_models and sorted(report.finished) == list(range(plan.n_models))
    n = plan.n_models
    model_s = sum(report.model_seconds.values())
    return {"wall": report.wall_s, "model_s": model_s / n,
            "overhead": report.wall_s * threads / n - model_s / n,
            "cpu": (monitor.last["cpu_s"] - monitor.first["cpu_s"]) / n,
            "tasks": monitor.peak["n_tasks"], "rss0": monitor.first["rss_bytes"] / MiB,
            "rss_peak": monitor.peak["rss_bytes"] / MiB, "rss_after": after["rss_bytes"] / MiB,
            "left": after["n_tasks"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=200, help="micro models per run (default 200)")
    parser.add_argument("--jobs", type=int, default=4, help="one-core SLURM worker jobs (default 4)")
    parser.add_argument("--cores-per-node", type=int, default=32,
                        help="cores per node for the 100-node projection (default 32)")
    args = parser.parse_args()
    from distributed import Client

    plan = plan_campaign(load_campaign_config(REPO / "configs" / "models" / "micro.yaml"), args.models)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.models} micro "
          f"models, {args.jobs} SLURM worker jobs (1 core each), TLS on")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        serial_store = new_store(plan, folder, "serial.zarr")
        timed_run_model(serial_store, 0, plan.models[0], plan.map_spec, BACKEND)  # warm-up
        start = time.perf_counter()
        for i in range(plan.n_models):
            timed_run_model(serial_store, i, plan.models[i], plan.map_spec, BACKEND)
        serial = (time.perf_counter() - start) / plan.n_models
        cluster_file = folder / "bench.yaml"
        cluster_file.write_text(
            f"kind: slurm\nworkers: {args.jobs}\nbackend: {BACKEND}\ndashboard_address: 127.0.0.1:0\n"
            f"checkpoint_every_s: null\nsecurity_directory: {folder / 'credentials'}\n"
            "slurm:\n  cores: 1\n  processes: 1\n  memory: 1GiB\n  walltime: '00:20:00'\n"
            f"  job_name: gcs-bench-scale\n  local_directory: {folder / 'scratch'}\n"
            f"  log_directory: {folder / 'logs'}\n")
        config = load_cluster_config(cluster_file)
        t0 = time.perf_counter()
        with start_cluster(config) as cluster, Client(cluster) as client:
            base = client.run_on_scheduler(lambda dask_scheduler: __import__("psutil").Process()
                                           .memory_info().rss) / MiB
            client.wait_for_workers(args.jobs, timeout=300)
            up = time.perf_counter() - t0
            with_workers = client.run_on_scheduler(lambda dask_scheduler: __import__("psutil").Process()
                                                   .memory_info().rss) / MiB
            kinds = [0, plan.suite_indices()["merger"][0]]  # warm every worker on a disk and a merger
            client.gather([client.submit(timed_run_model, serial_store, i, plan.models[i], plan.map_spec,
                                         BACKEND, pure=False, workers=[w])
                           for w in client.scheduler_info()["workers"] for i in kinds])
            threads = sum(client.nthreads().values())
            window = submission_window(threads)
            runs = {}
            for rep in (1, 2):  # interleaved, so drifting load and warm-up hit both alike
                for name, size in (("windowed", window), ("unwindowed", args.models)):
                    runs[f"{name} #{rep}"] = farm(client, plan, new_store(plan, folder, f"{name}{rep}.zarr"),
                                                  size, threads)
        del cluster, client  # its temporary credential files go before their folder does
        gc.collect()
    print(f"  {args.jobs} worker jobs up in {up:.1f} s (sbatch -> workers connected); serial baseline "
          f"{serial * 1e3:.1f} ms per model in this process")
    print(f"  scheduler process RSS: {base:.1f} MiB before workers, {with_workers:.1f} MiB with "
          f"{args.jobs} workers")
    header = ("run", "window", "wall s", "model ms", "overhead ms/model", "sched CPU ms/model",
              "peak tasks", "RSS0 MiB", "RSS peak", "RSS after", "tasks after")
    print("  " + " | ".join(header))
    for name, r in runs.items():
        w = window if name.startswith("windowed") else args.models
        print(f"  {name:13s} | {w:6d} | {r['wall']:6.2f} | {r['model_s'] * 1e3:8.1f} | "
              f"{r['overhead'] * 1e3:17.1f} | {r['cpu'] * 1e3:18.2f} | {r['tasks']:10.0f} | "
              f"{r['rss0']:8.1f} | {r['rss_peak']:8.1f} | {r['rss_after']:9.1f} | {r['left']:.0f}")
    w = {k: min(runs[f"windowed #{i}"][k] for i in (1, 2)) for k in runs["windowed #1"]}  # best of two
    u = {k: min(runs[f"unwindowed #{i}"][k] for i in (1, 2)) for k in runs["unwindowed #1"]}
    u["tasks"] = max(runs[f"unwindowed #{i}"]["tasks"] for i in (1, 2))
    u["rss_peak"] = max(runs[f"unwindowed #{i}"]["rss_peak"] for i in (1, 2))
    print(f"  ratios windowed/unwindowed (best of two): wall {w['wall'] / u['wall']:.2f}, overhead per model "
          f"{w['overhead'] / u['overhead']:.2f}, peak tasks {w['tasks'] / max(u['tasks'], 1):.3f}; farm "
          f"slot time per model / serial time per model: {(w['wall'] * threads / args.models) / serial:.2f}")

    per_task_kib = max(u["rss_peak"] - u["rss0"], 0.0) * 1024 / max(u["tasks"], 1)
    per_worker_kib = max(with_workers - base, 0.0) * 1024 / args.jobs
    nodes, n = 100, 2000
    slots = nodes * args.cores_per_node
    held = min(n, submission_window(slots))
    mem = with_workers + (slots - args.jobs) * per_worker_kib / 1024 + held * per_task_kib / 1024
    cpu_total = n * w["cpu"]
    print(f"\nprojection: {n} models on {nodes} nodes x {args.cores_per_node} cores ({slots} worker threads)")
    print(f"  scheduler holds at most {held} model tasks (window {submission_window(slots)}); measured "
          f"~{per_task_kib:.1f} KiB per task in flight and ~{per_worker_kib:.0f} KiB per worker -> "
          f"~{mem:.0f} MiB scheduler RSS (independent of the number of models beyond the window)")
    print(f"  scheduler+client CPU: {w['cpu'] * 1e3:.2f} ms per model -> {cpu_total:.1f} s for {n} models "
          f"({100 * w['cpu'] / 60:.3f} % of a 1-minute model); the scheduler can feed ~"
          f"{1 / max(w['cpu'], 1e-9):.0f} models/s, so all {slots} threads stay busy while a model lasts "
          f"> {slots * w['cpu']:.1f} s; slot overhead per model {w['overhead'] * 1e3:.1f} ms "
          f"({100 * w['overhead'] / 60:.3f} % of a 1-minute model)")


if __name__ == "__main__":
    main()
