"""Equilibrium initial conditions of disk galaxies with globular cluster systems, and their mergers.

Public API: :func:`build_model` (spec -> particles), :func:`disk_size_kpc` (R_d of a galaxy in kpc) and
:func:`describe_model` (spec -> JSON-ready diagnostics). See :mod:`gcs_hpc.galaxy.models` for the model
choices and :mod:`gcs_hpc.galaxy.components` for the equilibrium method.
"""

from __future__ import annotations

from gcs_hpc.galaxy.diagnostics import describe_model
from gcs_hpc.galaxy.models import build_model, disk_size_kpc

__all__ = ["build_model", "disk_size_kpc", "describe_model"]
