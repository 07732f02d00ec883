"""Campaign progress: a live bar on a terminal, plain periodic lines in batch logs, a final summary.

Each line (or the bar's postfix) says how many models are done, failed and running, the rate in models
per hour and the estimated time to finish. Rates count only this run's models (a resumed campaign does
not inflate them).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from gcs_hpc.store.schema import STATUS_DONE


def format_duration(seconds: float) -> str:
    """``3725`` -> ``"1h02m05s"``; ``None``/infinite -> ``"?"``."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m:02d}m{s:02d}s"
    if m:
        return f"{m}m{s:02d}s"
    return f"{s}s"


@dataclass
class Progress:
    """Counts models as they finish and reports them.

    Parameters
    ----------
    total
        Models of the campaign (all of them, including those done before a resume).
    already_done
        Models found done in the store at start.
    interactive
        Live tqdm bar (default: when ``stream`` is a terminal) or plain lines every ``interval_s``.
    interval_s
        Seconds between plain lines.
    stream
        Where to write (default stderr).
    """

    total: int
    already_done: int = 0
    interactive: bool | None = None
    interval_s: float = 30.0
    stream: TextIO | None = None
    done: int = 0
    failed: int = 0
    running: int = 0
    started: float = field(default_factory=time.monotonic)
    _last_line: float = 0.0
    _bar: object | None = None

    def __post_init__(self) -> None:
        if self.stream is None:
            self.stream = sys.stderr
        if self.interactive is None:
            self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        if self.interactive:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=self.already_done, file=self.stream, unit="model",
                             dynamic_ncols=True, smoothing=0.1)
        self._last_line = time.monotonic()

    @property
    def to_run(self) -> int:
        """Models this run set out to compute."""
        return self.total - self.already_done

    def rate_per_hour(self) -> float:
        """Models finished (done or failed) per hour in this run."""
        elapsed = time.monotonic() - self.started
        finished = self.done + self.failed
        return 3600.0 * finished / elapsed if elapsed > 0 and finished else 0.0

    def eta_s(self) -> float:
        """Seconds until every model of this run is finished, at the current rate."""
        rate = self.rate_per_hour()
        left = self.to_run - self.done - self.failed
        return 3600.0 * left / rate if rate > 0 else float("inf")

    def status_line(self) -> str:
        """One plain line: counts, rate and ETA."""
        return (f"campaign: {self.already_done + self.done}/{self.total} done, {self.failed} failed, "
                f"{self.running} running, {self.rate_per_hour():.1f} models/h, "
                f"ETA {format_duration(self.eta_s())}")

    def model_finished(self, status: str) -> None:
        """Count one model finished with ``status`` ("done" or "failed")."""
        if status == STATUS_DONE:
            self.done += 1
        else:
            self.failed += 1
        if self._bar is not None:
            self._bar.update(1)
            self._postfix()
        self.tick()

    def set_running(self, running: int) -> None:
        """Update the number of models being computed right now."""
        self.running = running
        if self._bar is not None:
            self._postfix()

    def _postfix(self) -> None:
        self._bar.set_postfix_str(f"failed={self.failed} running={self.running} "
                                  f"{self.rate_per_hour():.1f}/h", refresh=True)

    def tick(self, force: bool = False) -> None:
        """Write a plain line if ``interval_s`` has passed (never in interactive mode unless ``force``)."""
        now = time.monotonic()
        if self._bar is not None and not force:
            return
        if force or now - self._last_line >= self.interval_s:
            self._last_line = now
            self.message(self.status_line())

    def message(self, text: str) -> None:
        """Write a line without breaking the bar."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """Close the bar (if any)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def summary(self) -> str:
        """The final summary of this run."""
        elapsed = time.monotonic() - self.started
        return (f"campaign summary: {self.done} done and {self.failed} failed of {self.to_run} run in "
                f"{format_duration(elapsed)} ({self.rate_per_hour():.1f} models/h); store holds "
                f"{self.already_done + self.done}/{self.total} models done")
