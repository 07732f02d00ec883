"""The farm: hand the campaign's pending models to a dask cluster and collect them as they finish.

One task per model (:func:`gcs_hpc.campaign.run_model.timed_run_model`), submitted in an order that keeps
suites progressing together; futures are released as they finish, so nothing per model accumulates on the
client or the scheduler. A worker that dies mid-model (SIGKILL, out of memory, end of its job) costs only
that attempt: the scheduler reruns the task elsewhere, and the model's region write is idempotent, so every
model lands exactly once. A model that fails its physics checks is recorded failed by the worker; a task
that raises anything else is retried ``retries`` times and then recorded failed here. After
``max_failures`` failed models the farm cancels what is left and reports that it stopped.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gcs_hpc.campaign.cluster import ClusterConfig, start_cluster
from gcs_hpc.campaign.plan import CampaignPlan
from gcs_hpc.campaign.progress import Progress
from gcs_hpc.campaign.run_model import timed_run_model

#: Seconds between polls of finished futures and of the scheduler's running count.
POLL_S = 0.2
RUNNING_POLL_S = 2.0


@dataclass
class FarmReport:
    """What a farm run did.

    Attributes
    ----------
    statuses
        Final status of every model this run handled, by store index.
    model_seconds
        Wall time of each model's task on its worker (done or failed).
    failures
        Reason of each failed model, by index.
    finished
        Store indices in the order their results arrived (each model once).
    stopped
        True when the run stopped early because ``max_failures`` was reached.
    wall_s
        Wall time from the first submission to the last result.
    """

    statuses: dict[int, str] = field(default_factory=dict)
    model_seconds: dict[int, float] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    finished: list[int] = field(default_factory=list)
    stopped: bool = False
    wall_s: float = 0.0

    @property
    def n_done(self) -> int:
        """Models done in this run."""
        return sum(1 for s in self.statuses.values() if s == "done")

    @property
    def n_failed(self) -> int:
        """Models failed in this run."""
        return sum(1 for s in self.statuses.values() if s == "failed")


def dashboard_line(client: Any) -> str:
    """Where the dask dashboard is (or why there is none)."""
    if importlib.util.find_spec("bokeh") is None:
        return "dask dashboard: not running (pip install bokeh to get it)"
    return f"dask dashboard: {client.dashboard_link}"


def _running(client: Any) -> int:
    """Models being computed now: tasks assigned to workers, at most one per worker thread."""
    try:
        threads = client.nthreads()
        return sum(min(len(keys), threads.get(worker, 1)) for worker, keys in client.processing().items())
    except Exception:  # the scheduler may be busy or going away; progress is best effort
        return 0


def farm_models(client: Any, plan: CampaignPlan, store_path: str | Path, indices: list[int], *,
                backend: str, resources: dict[str, float] | None = None, retries: int = 2,
                max_failures: int | None = None, progress: Progress | None = None,
                on_result: Callable[[int, str], None] | None = None) -> FarmReport:
    """Run models ``indices`` of ``plan`` on the cluster behind ``client``; return when all finished or
    ``max_failures`` models failed.

    Parameters
    ----------
    client
        A connected :class:`distributed.Client`.
    plan, store_path
        The campaign and its (existing) store.
    indices
        Store indices to run (the pending ones on a resume).
    backend
        N-body backend the workers use.
    resources
        Resources every task asks for (``{"GPU": 1}`` on GPU workers).
    retries
        Reruns of a task that raised (not a physics failure, which is recorded by the worker).
    max_failures
        Stop after this many failed models (``None``: never stop early).
    progress
        Progress reporter.
    on_result
        Called with ``(index, status)`` as each model finishes (tests, custom logging).
    """
    from distributed import as_completed

    from gcs_hpc.store import mark_failed

    report = FarmReport()
    store = str(store_path)
    order = plan.submission_order(list(indices))
    start = time.perf_counter()
    futures = {}
    for index in order:
        future = client.submit(timed_run_model, store, index, plan.models[index], plan.map_spec, backend,
                               key=f"gcs-model-{index:07d}-{plan.models[index].seed:x}", pure=False,
                               retries=retries, resources=resources or None)
        futures[future] = index
    pending = as_completed(list(futures))
    last_running = 0.0
    try:
        while not pending.is_empty():
            batch = pending.next_batch(block=False)
            if not batch:
                now = time.monotonic()
                if progress is not None and now - last_running >= RUNNING_POLL_S:
                    last_running = now
                    progress.set_running(_running(client))
                    progress.tick()
                time.sleep(POLL_S)
                continue
            for future in batch:
                index = futures.pop(future)
                status = _collect(future, index, store, report, mark_failed)
                future.release()
                del future
                if status is None:
                    continue
                report.finished.append(index)
                if progress is not None:
                    progress.model_finished(status)
                if on_result is not None:
                    on_result(index, status)
                if status == "failed" and max_failures is not None and report.n_failed >= max_failures:
                    report.stopped = True
                    break
            if report.stopped:
                left = list(futures)
                client.cancel(left)
                futures.clear()
                break
    finally:
        report.wall_s = time.perf_counter() - start
    return report


def _collect(future: Any, index: int, store: str, report: FarmReport, mark_failed: Callable) -> str | None:
    """Record one finished future; return its status (None when it was cancelled)."""
    if future.status == "cancelled":
        return None
    if future.status == "finished":
        _, status, seconds, reason = future.result()
        report.statuses[index] = status
        report.model_seconds[index] = seconds
        if status == "failed":
            report.failures[index] = reason
        return status
    exc = future.exception()
    reason = f"{type(exc).__name__}: {exc}"
    if type(exc).__name__ == "KilledWorker":
        reason = ("KilledWorker: workers died repeatedly while running this model (out of memory, or a "
                  f"crash in compiled code?): {exc}")
    mark_failed(store, index, reason)
    report.statuses[index] = "failed"
    report.failures[index] = reason
    return "failed"


def run_farm(plan: CampaignPlan, store_path: str | Path, cluster: ClusterConfig, indices: list[int], *,
             max_failures: int | None, progress: Progress | None = None,
             log: Callable[[str], None] = print, log_directory: str | Path | None = None) -> FarmReport:
    """Start the cluster of ``cluster``, farm ``indices`` out, close the cluster (cancelling worker jobs)."""
    from distributed import Client

    with start_cluster(cluster, log_directory=log_directory) as dask_cluster:
        with Client(dask_cluster) as client:
            workers = (str(cluster.n_workers) if cluster.adapt is None
                       else f"adaptive {cluster.adapt.minimum}-{cluster.adapt.maximum}")
            log(f"dask scheduler: {client.scheduler.address} ({cluster.kind} cluster, {workers} workers, "
                f"backend {cluster.backend})")
            log(dashboard_line(client))
            return farm_models(client, plan, store_path, indices, backend=cluster.backend,
                               resources=dict(cluster.resources) or None, retries=cluster.retries,
                               max_failures=max_failures, progress=progress)
