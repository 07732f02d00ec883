"""Exceptions of gcs_hpc: each names what was wrong and, for input, the allowed range."""

from __future__ import annotations


class GcsError(Exception):
    """Base class of every error gcs_hpc raises on purpose."""


class ConfigError(GcsError, ValueError):
    """A config, spec or command-line value is invalid (unknown key, wrong type, out of range)."""


class CheckpointMismatchError(ConfigError):
    """An N-body checkpoint cannot be resumed by this run: unreadable, another format version, or written
    by a run with other inputs (initial particles, backend, time step). The campaign then starts afresh."""


class SimulationError(GcsError, RuntimeError):
    """An N-body run failed its physics checks (NaN/inf, energy error above the bound).

    Parameters
    ----------
    message
        What went wrong, naming the model, step and time.
    diagnostics
        The last diagnostics recorded before the failure (JSON-serialisable).
    """

    def __init__(self, message: str, diagnostics: dict | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or {}


class StoreError(GcsError, RuntimeError):
    """A zarr store is corrupt, has another schema, or was made with another config."""


class CatalogError(GcsError, ValueError):
    """An observed GC catalogue or galaxy table is malformed or unusable."""
