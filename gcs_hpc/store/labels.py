"""The training label: total mass on the paper's 0..10 scale, with bounds stored in the store.

``label = 10 (log10 M - log10 M_lo) / (log10 M_hi - log10 M_lo)``. The paper does not state its mass
range or normalisation; we take ``M_lo``, ``M_hi`` from the models' ``M_total`` when the store is
created, rounded outward to 0.1 dex, and store them in the attributes ``label_log10_mass_min`` and
``label_log10_mass_max``, so that a network trained on one store maps its outputs back to masses.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from gcs_hpc.errors import StoreError

#: Top of the label scale (the paper's 0..10).
LABEL_MAX: float = 10.0
#: Bounds are rounded outward to this step in log10 M.
LABEL_BOUND_STEP_DEX: float = 0.1
LO_KEY, HI_KEY = "label_log10_mass_min", "label_log10_mass_max"


def label_bounds(masses_msun: Sequence[float]) -> tuple[float, float]:
    """log10 mass bounds of the label scale for these masses, rounded outward to 0.1 dex.

    When every mass is the same the bounds are widened by one step either side.
    """
    m = np.asarray(masses_msun, dtype=np.float64)
    if m.size == 0 or not np.all(np.isfinite(m) & (m > 0)):
        raise ValueError("label_bounds: masses must be finite and > 0 Msun, at least one")
    step = LABEL_BOUND_STEP_DEX
    lo = math.floor(round(np.log10(m.min()) / step, 9)) * step
    hi = math.ceil(round(np.log10(m.max()) / step, 9)) * step
    if hi - lo < step / 2:
        lo, hi = lo - step, hi + step
    return round(lo, 6), round(hi, 6)


def label_attrs(masses_msun: Sequence[float]) -> dict[str, Any]:
    """Store attributes describing the label normalisation."""
    lo, hi = label_bounds(masses_msun)
    return {
        LO_KEY: lo,
        HI_KEY: hi,
        "label_max": LABEL_MAX,
        "label_definition": f"label = {LABEL_MAX:g} (log10(M_total/Msun) - {LO_KEY}) / "
                            f"({HI_KEY} - {LO_KEY})",
    }


def _bounds(attrs: Mapping[str, Any]) -> tuple[float, float]:
    try:
        lo, hi = float(attrs[LO_KEY]), float(attrs[HI_KEY])
    except (KeyError, TypeError, ValueError):
        raise StoreError(f"store attributes lack a valid label normalisation ({LO_KEY}, {HI_KEY})") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise StoreError(f"store label normalisation is invalid: {LO_KEY} = {lo}, {HI_KEY} = {hi}; "
                         "allowed: finite with max > min")
    return lo, hi


def mass_to_label(mass_msun: Any, attrs: Mapping[str, Any]) -> np.ndarray:
    """Total mass in Msun -> label on the 0..10 scale of the store whose attributes are ``attrs``."""
    lo, hi = _bounds(attrs)
    m = np.asarray(mass_msun, dtype=np.float64)
    if not np.all(m > 0):
        raise ValueError("mass_to_label: masses must be > 0 Msun")
    return LABEL_MAX * (np.log10(m) - lo) / (hi - lo)


def label_to_mass(label: Any, attrs: Mapping[str, Any]) -> np.ndarray:
    """Label on the 0..10 scale -> total mass in Msun (inverse of :func:`mass_to_label`)."""
    lo, hi = _bounds(attrs)
    return 10.0 ** (lo + np.asarray(label, dtype=np.float64) / LABEL_MAX * (hi - lo))
