"""The farm: hand the campaign's pending models to a dask cluster and collect them as they finish.

One task per model (:func:`gcs_hpc.campaign.run_model.timed_run_model`), submitted in an order that keeps
suites progressing together. Submission is windowed: at most ``window`` model tasks exist at once (a few per
worker thread), topped up as models finish, and every future is released as soon as its result is read,
so the client and the scheduler hold O(window) task states, never O(models): a campaign of 2000 or
200000 models costs the scheduler the same. A worker that dies mid-model (SIGKILL, out of memory, end of
its job or its ``--lifetime``) costs only that attempt (and, with checkpoints, only the time since the
model's last checkpoint): the scheduler reruns the task elsewhere, and the model's region write is
idempotent, so every model lands exactly once. Workers that left are replaced: every few seconds the farm
asks the cluster to restart the workers of its spec that are gone (a new SLURM job each). A model that
fails its physics checks is recorded failed by the worker; a task that raises anything else is retried
``retries`` times and then recorded failed here. After ``max_failures`` failed models the farm cancels what
is left and reports that it stopped.
"""

from __future__ import annotations

import importlib.util
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gcs_hpc.campaign.cluster import ClusterConfig, start_cluster
from gcs_hpc.campaign.network import bound_addresses
from gcs_hpc.campaign.plan import CampaignPlan
from gcs_hpc.campaign.progress import Progress
from gcs_hpc.campaign.run_model import timed_run_model
from gcs_hpc.store.read import STATUS_DONE, STATUS_FAILED

#: Seconds between polls of finished futures, of the scheduler's running count, and for lost workers.
POLL_S = 0.02
RUNNING_POLL_S = 2.0
REPLACE_POLL_S = 5.0
#: The submission window: model tasks in flight per worker thread, and at least this many.
WINDOW_PER_THREAD = 2
MIN_WINDOW = 4


def submission_window(threads: int) -> int:
    """Model tasks kept in flight for ``threads`` worker threads: every thread busy plus one queued each,
    so a thread never waits for the client between models."""
    return max(MIN_WINDOW, WINDOW_PER_THREAD * int(threads))


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
    resumed
        Models whose N-body run resumed from a checkpoint: index -> step resumed from.
    finished
        Store indices in the order their results arrived (each model once).
    stopped
        True when the run stopped early because ``max_failures`` was reached.
    wall_s
        Wall time from the first submission to the last result.
    max_in_flight
        Most model tasks that existed at once (bounded by the submission window).
    workers_replaced
        Workers restarted by the farm after they left (end of lifetime or of their job).
    """

    statuses: dict[int, str] = field(default_factory=dict)
    model_seconds: dict[int, float] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    resumed: dict[int, int] = field(default_factory=dict)
    finished: list[int] = field(default_factory=list)
    stopped: bool = False
    wall_s: float = 0.0
    max_in_flight: int = 0
    workers_replaced: int = 0

    @property
    def n_done(self) -> int:
        """Models done in this run."""
        return sum(1 for s in self.statuses.values() if s == STATUS_DONE)

    @property
    def n_failed(self) -> int:
        """Models failed in this run."""
        return sum(1 for s in self.statuses.values() if s == STATUS_FAILED)


def dashboard_line(client: Any, bound: str = "") -> str:
    """Where the dask dashboard listens (``bound``: the addresses its sockets really have), or why there
    is none."""
    if importlib.util.find_spec("bokeh") is None:
        return "dask dashboard: not running (pip install bokeh to get it)"
    if bound:
        scheme = client.dashboard_link.split("://", 1)[0]
        return f"dask dashboard: listening on {bound} ({scheme}://{bound.split(', ')[0]}/status)"
    return f"dask dashboard: {client.dashboard_link}"


def _running(client: Any) -> int:
    """Models being computed now: tasks assigned to workers, at most one per worker thread."""
    try:
        threads = client.nthreads()
        return sum(min(len(keys), threads.get(worker, 1)) for worker, keys in client.processing().items())
    except Exception:  # the scheduler may be busy or going away; progress is best effort
        return 0


def _threads(client: Any) -> int:
    """Worker threads connected now (0 when the scheduler does not answer)."""
    try:
        return sum(client.nthreads().values())
    except Exception:
        return 0


def replace_lost_workers(client: Any) -> set[Any]:
    """Restart the workers of the cluster's spec that have left (a worker that reached its ``--lifetime``,
    a SLURM job that ended); return the names of the workers being (re)started.

    dask's SpecCluster (LocalCluster, dask-jobqueue's clusters) forgets a worker that left but keeps its
    place in the spec; neither fixed scaling nor adaptive scaling at its maximum starts a new one. Scaling
    to the spec's own size does, without changing the size adaptive scaling chose. A worker still
    starting is also in the returned set (its start is not repeated).
    """
    from distributed.core import Status
    from distributed.deploy.spec import SpecCluster

    cluster = getattr(client, "cluster", None)
    if not isinstance(cluster, SpecCluster) or cluster.status != Status.running:
        return set()
    try:
        lost = set(cluster.worker_spec) - set(cluster.workers)
        if lost:
            SpecCluster.scale(cluster, len(cluster.worker_spec))
    except RuntimeError:  # the cluster's event loop changed a dict while we read it; try next time
        return set()
    return lost


def farm_models(client: Any, plan: CampaignPlan, store_path: str | Path, indices: list[int], *,
                backend: str, resources: dict[str, float] | None = None, retries: int = 2,
                max_failures: int | None = None, progress: Progress | None = None,
                on_result: Callable[[int, str], None] | None = None, window: int | None = None,
                checkpoint_every_s: float | None = None, replace_workers: bool = True) -> FarmReport:
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
    window
        Least number of model tasks kept in flight (default :data:`MIN_WINDOW`); the window grows to
        :func:`submission_window` of the worker threads connected, and never holds more.
    checkpoint_every_s
        Wall seconds between checkpoints of each model's N-body run (``None``: none).
    replace_workers
        Restart workers that left (:func:`replace_lost_workers`).
    """
    from distributed import as_completed

    from gcs_hpc.store import mark_failed

    report = FarmReport()
    store = str(store_path)
    queue = deque(plan.submission_order(list(indices)))
    floor = MIN_WINDOW if window is None else max(1, int(window))
    start = time.perf_counter()
    in_flight: dict[Any, int] = {}
    finished = as_completed()
    threads = _threads(client)

    def top_up() -> None:
        limit = max(floor, submission_window(threads))
        while queue and len(in_flight) < limit:
            index = queue.popleft()
            spec = plan.models[index]
            future = client.submit(timed_run_model, store, index, spec, plan.map_spec, backend,
                                   checkpoint_every_s, key=f"gcs-model-{index:07d}-{spec.seed:x}",
                                   pure=False, retries=retries, resources=resources or None)
            in_flight[future] = index
            finished.add(future)
        report.max_in_flight = max(report.max_in_flight, len(in_flight))

    top_up()
    last_running = last_replace = time.monotonic()
    restarting: set[Any] = set()
    try:
        while in_flight:
            batch = finished.next_batch(block=False)
            if not batch:
                now = time.monotonic()
                if now - last_running >= RUNNING_POLL_S:
                    last_running = now
                    threads = _threads(client)
                    top_up()
                    if progress is not None:
                        progress.set_running(_running(client))
                        progress.tick()
                if replace_workers and now - last_replace >= REPLACE_POLL_S:
                    last_replace = now
                    lost = replace_lost_workers(client)
                    new = len(lost - restarting)
                    restarting = lost
                    report.workers_replaced += new
                    if new and progress is not None:
                        progress.message(f"campaign: restarting {new} worker(s) that left (end of their "
                                         "--lifetime or job)")
                time.sleep(POLL_S)
                continue
            for future in batch:
                index = in_flight.pop(future)
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
                if status == STATUS_FAILED and max_failures is not None and report.n_failed >= max_failures:
                    report.stopped = True
                    break
            if report.stopped:
                client.cancel(list(in_flight))
                in_flight.clear()
                queue.clear()
                break
            top_up()
    finally:
        report.wall_s = time.perf_counter() - start
    return report


def _collect(future: Any, index: int, store: str, report: FarmReport, mark_failed: Callable) -> str | None:
    """Record one finished future; return its status (None when it was cancelled)."""
    from distributed.scheduler import KilledWorker

    if future.status == "cancelled":
        return None
    if future.status == "finished":
        outcome = future.result()
        report.statuses[index] = outcome.status
        report.model_seconds[index] = outcome.seconds
        if outcome.resumed_from_step:
            report.resumed[index] = outcome.resumed_from_step
        if outcome.status == STATUS_FAILED:
            report.failures[index] = outcome.reason
        return outcome.status
    exc = future.exception()
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, KilledWorker):
        reason = ("KilledWorker: workers died repeatedly while running this model (out of memory, or a "
                  f"crash in compiled code?): {exc}")
    mark_failed(store, index, reason)
    report.statuses[index] = STATUS_FAILED
    report.failures[index] = reason
    return STATUS_FAILED


def run_farm(plan: CampaignPlan, store_path: str | Path, cluster: ClusterConfig, indices: list[int], *,
             max_failures: int | None, progress: Progress | None = None,
             log: Callable[[str], None] = print, log_directory: str | Path | None = None) -> FarmReport:
    """Start the cluster of ``cluster``, farm ``indices`` out, close the cluster (cancelling worker jobs)."""
    from distributed import Client

    with start_cluster(cluster, log_directory=log_directory) as dask_cluster:
        with Client(dask_cluster) as client:
            workers = (str(cluster.n_workers) if cluster.adapt is None
                       else f"adaptive {cluster.adapt.minimum}-{cluster.adapt.maximum}")
            listen, dashboard = bound_addresses(dask_cluster, client)
            log(f"dask scheduler: listening on {listen} ({cluster.kind} cluster, {workers} workers, "
                f"backend {cluster.backend})")
            log(dashboard_line(client, dashboard))
            return farm_models(client, plan, store_path, indices, backend=cluster.backend,
                               resources=dict(cluster.resources) or None, retries=cluster.retries,
                               max_failures=max_failures, progress=progress,
                               window=submission_window(cluster.planned_threads),
                               checkpoint_every_s=cluster.checkpoint_every_s)
