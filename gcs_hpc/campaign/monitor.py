"""Watch the dask scheduler while a campaign runs: the tasks it holds, its memory and its CPU time.

A background thread asks the scheduler (wherever it runs) for a small sample every ``interval_s`` and keeps
only the first, the last and the largest values, so watching a campaign of days costs constant memory.
Used by the scale test and ``benchmarks/farm_scale.py`` to show that the scheduler's state stays bounded
by the submission window, not by the number of models.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


def scheduler_sample(dask_scheduler: Any) -> dict[str, float]:
    """One sample, computed on the scheduler (pass to ``client.run_on_scheduler``)."""
    import psutil

    process = psutil.Process()
    cpu = process.cpu_times()
    return {"n_tasks": len(dask_scheduler.tasks), "n_task_groups": len(dask_scheduler.task_groups),
            "n_workers": len(dask_scheduler.workers), "rss_bytes": process.memory_info().rss,
            "cpu_s": cpu.user + cpu.system, "pid": process.pid}


@dataclass
class SchedulerMonitor:
    """Sample the scheduler behind ``client`` every ``interval_s`` seconds (a context manager).

    Attributes
    ----------
    first, last
        The first and the last sample (see :func:`scheduler_sample`).
    peak
        The largest value of every field over all samples.
    n_samples
        Samples taken.
    """

    client: Any
    interval_s: float = 0.25
    first: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    peak: dict[str, float] = field(default_factory=dict)
    n_samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> dict[str, float]:
        """Take one sample now and fold it into first/last/peak."""
        values = self.client.run_on_scheduler(scheduler_sample)
        if not self.first:
            self.first = dict(values)
        self.last = dict(values)
        for key, value in values.items():
            self.peak[key] = max(self.peak.get(key, value), value)
        self.n_samples += 1
        return values

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sample()
            except Exception:  # the scheduler is closing; the last good sample stays
                return

    def __enter__(self) -> SchedulerMonitor:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="gcs-scheduler-monitor", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10 * self.interval_s + 5)
        try:
            self.sample()
        except Exception:
            pass

    def wait_until_idle(self, timeout_s: float = 30.0) -> dict[str, float]:
        """Sample until the scheduler holds no task (releases arrive asynchronously); return the sample."""
        deadline = time.monotonic() + timeout_s
        values = self.sample()
        while values["n_tasks"] and time.monotonic() < deadline:
            time.sleep(0.1)
            values = self.sample()
        return values
