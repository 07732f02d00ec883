"""What a net learns (its target mass) and the physical scale it is told, read from the store.

Targets
-------
``M_total`` (default, the paper's)
    The total mass of the system (``M_total``: halo to R_200, disk, bulge); the label scale is the store's
    (``label_*`` attributes).
``M_enclosed``
    The total mass inside a sphere of an observable radius, ``M(<r)``, from the store's enclosed-mass
    profile (``enclosed_mass``, schema version 2; :func:`gcs_hpc.store.read_enclosed_mass`), by default
    ``r = 5 R_half`` (radius name ``"5_r_half"``), the radius the classic estimators and the literature
    (Alabi et al. 2016: M(<5 R_e)) quote. The 0..10 label scale spans the done models' M(<r), rounded
    outward to 0.1 dex (:func:`gcs_hpc.store.label_bounds`), and is written into the net's metadata.

GCs within ~20 kpc constrain M_total only through the training prior; M(<5 R_half) is what they measure.

Physical scale
--------------
Maps in units of R_half (``fov_unit: R_half``) have lost the galaxy's size, and mass goes as
``sigma^2 R``: such nets take ``log10(R_half / kpc)`` of every view as a second input
(:func:`gcs_hpc.learn.nets.build_net` with ``scale_input``), from the store's ``r_half`` (model, angle);
observe passes the galaxy's R_e. ``scale_input=None`` (auto) turns it on exactly for R_half stores that
record ``r_half``. Maps in R_d (the paper's unit) or kpc get no scale input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gcs_hpc.config import check_choice
from gcs_hpc.errors import ConfigError, StoreError

TARGETS = ("M_total", "M_enclosed")
#: Radius name of the default enclosed-mass target (5 R_half).
DEFAULT_ENCLOSED_RADIUS = "5_r_half"


def check_target(target: str, radius: str) -> None:
    """Validate a target name and its enclosed-mass radius name (ConfigError naming the field)."""
    check_choice("learn", "target", target, TARGETS)
    if not isinstance(radius, str) or not radius:
        raise ConfigError(f"learn.enclosed_radius = {radius!r}; allowed: a radius name such as "
                          f"{DEFAULT_ENCLOSED_RADIUS!r}")


def target_name(target: str, radius: str) -> str:
    """Human-readable name: ``M_total`` or ``M(<5_r_half)``."""
    return "M_total" if target == "M_total" else f"M(<{radius})"


def radius_kpc(radius: str, r_half_kpc: float | None) -> float | None:
    """The radius named ``radius`` ("5_r_half", "r_half", "20_kpc") in kpc for a galaxy with this R_half
    (None when it cannot be said: "fov_half", or R_half unknown)."""
    if radius == "r_half":
        factor, unit = 1.0, "r_half"
    else:
        head, _, unit = radius.partition("_")
        try:
            factor = float(head)
        except ValueError:
            return None
    if unit == "kpc":
        return factor
    return factor * float(r_half_kpc) if unit == "r_half" and r_half_kpc is not None else None


def target_masses(ds: Any, target: str, radius: str = DEFAULT_ENCLOSED_RADIUS) -> np.ndarray:
    """Per-model target masses in Msun (NaN for models not done), from the opened store ``ds``.

    Raises
    ------
    StoreError
        For ``M_enclosed`` on a store without the enclosed-mass profile (schema version 1) or without the
        named radius.
    """
    check_target(target, radius)
    if target == "M_total":
        return np.asarray(ds["M_total"].values, dtype=np.float64)
    if "enclosed_mass" not in ds.variables:
        raise StoreError(f"target M_enclosed needs the store's enclosed-mass profile (enclosed_mass, schema "
                         f"version 2); this store (schema version {ds.attrs.get('schema_version', 1)}) has "
                         "none: re-run the campaign with this gcs_hpc, or train on --target M_total")
    from gcs_hpc.store import read_enclosed_mass

    return read_enclosed_mass(ds, radius)


def target_label_attrs(store_attrs: dict, masses_done: np.ndarray, target: str, radius: str) -> dict:
    """The label scale of a target: the store's for ``M_total``, else bounds from the done models."""
    from gcs_hpc import store
    from gcs_hpc.store.labels import label_attrs

    if target == "M_total":
        keep = {k: v for k, v in store_attrs.items() if k.startswith("label_")}
        store.label_to_mass(5.0, keep)  # raises StoreError naming the keys when they are missing
        return keep
    masses = np.asarray(masses_done, dtype=np.float64)
    missing = int((~np.isfinite(masses)).sum())
    if missing:
        raise StoreError(f"target {target_name(target, radius)}: enclosed_mass of {missing} "
                         f"of {masses.size} done models is not recorded (NaN: written without the model's "
                         "summary); re-run those models with this gcs_hpc, or train on --target M_total")
    if masses.size == 0 or not np.all(masses > 0):
        raise StoreError(f"target {target_name(target, radius)}: the done models' enclosed_mass must be "
                         "> 0 Msun")
    attrs = label_attrs(masses)
    attrs["label_definition"] = attrs["label_definition"].replace("M_total", target_name(target, radius))
    attrs["label_target"] = target_name(target, radius)
    return attrs


def resolve_scale_input(ds: Any, fov_unit: str, scale_input: bool | None) -> bool:
    """Whether a net on this store takes the physical scale: ``None`` -> on for R_half stores with
    ``r_half``; ``True`` on a store that cannot give it raises ConfigError."""
    available = fov_unit == "R_half" and "r_half" in ds.variables
    if scale_input is None:
        return available
    if scale_input and not available:
        raise ConfigError(f"learn.scale_input = True needs maps with fov_unit 'R_half' and the store's "
                          f"r_half (schema version 2); this store has fov_unit {fov_unit!r}"
                          + ("" if "r_half" in ds.variables else " and no r_half"))
    return bool(scale_input)


def image_log_scales(ds: Any) -> np.ndarray:
    """log10(R_half / kpc) of every (model, angle), float32; NaN where not written."""
    from gcs_hpc.store import read_r_half

    r_half = read_r_half(ds)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log10(np.where(r_half > 0, r_half, np.nan)).astype(np.float32)


def attach(source: Any, target: str, radius: str, scale_input: bool) -> dict:
    """Point a map reader (:class:`gcs_hpc.learn.data.StoreMaps`) at a target and scale input.

    Sets ``source.labels`` (the target on its label scale, NaN-safe: models not done get label 0),
    ``source.target_mass_msun`` and ``source.image_scale`` ((model, angle) log10 kpc, or None), and
    returns the target's label attributes.
    """
    from gcs_hpc import store

    masses = target_masses(source.ds, target, radius)
    done = store.done_models(source.ds)
    attrs = target_label_attrs(source.attrs, masses[done], target, radius)
    floor = 10.0 ** float(attrs[store.LABEL_LOG10_MASS_MIN])
    safe = np.where(np.isfinite(masses) & (masses > 0), masses, floor)
    source.target_mass_msun = masses
    source.labels = np.asarray(store.mass_to_label(safe, attrs), dtype=np.float32)
    source.image_scale = image_log_scales(source.ds) if scale_input else None
    return attrs
