"""The done galaxies of a (possibly still running) campaign store, in memory, with both mass targets and
the GCs the store keeps (the classic estimators run on them in :mod:`gcs_hpc.experiments.galaxy_views`).

A workstation campaign takes hours and is read while it runs: :func:`load_sample` takes the models whose
status is ``done`` at that moment (optionally of some suites), their maps, ``log10 M_total`` and, in a
schema-2 store, ``log10 M(<5 R_half)``, the GC phase space and the projected half-mass radii.
:func:`projected_gcs` projects a galaxy's GCs along stored viewing angles (the maps' conventions,
:func:`gcs_hpc.maps.project`): no N-body re-runs (a schema-1 store has no phase space;
:mod:`gcs_hpc.experiments.compare` re-runs its models).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gcs_hpc.errors import ConfigError, StoreError

#: The two targets: the paper's total mass, and the mass inside 5 projected stellar half-mass radii.
TARGETS: tuple[str, ...] = ("M_total", "M_5r_half")
#: Radius name of the second target in the store's ``enclosed_mass`` (gcs_hpc.store.schema).
TARGET_RADIUS = "5_r_half"


@dataclass(frozen=True)
class Sample:
    """Done galaxies of one store.

    Attributes
    ----------
    store
        Path of the store.
    models
        Store indices of the galaxies, sorted.
    suite
        Suite of each galaxy.
    log_mass
        ``{target: log10 M / Msun}`` per galaxy; ``M_5r_half`` only in a schema-2 store.
    maps
        (n, n_angles, 2, npix, npix) float32 maps in km/s (sigma, V).
    theta, phi
        The store's viewing angles, degrees.
    label_attrs
        The store's label attributes (``label_log10_mass_min`` / ``_max``).
    phase_space
        (n, n_gc, 6) GC positions (kpc) and velocities (km/s), NaN-padded; None in a schema-1 store.
    r_half
        (n, n_angles) projected stellar half-mass radius in kpc; None in a schema-1 store.
    disk_size_kpc
        (n,) the initial disk size R_d of each galaxy (17.5 kpc (M_halo / 1e12 Msun)^(1/3)), the map unit
        of ``fov_unit: R_d``.
    """

    store: str
    models: np.ndarray = field(repr=False)
    suite: np.ndarray = field(repr=False)
    log_mass: dict[str, np.ndarray] = field(repr=False)
    maps: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)
    phi: np.ndarray = field(repr=False)
    label_attrs: dict[str, Any] = field(repr=False)
    phase_space: np.ndarray | None = field(default=None, repr=False)
    r_half: np.ndarray | None = field(default=None, repr=False)
    disk_size_kpc: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.models)
        lengths = [len(self.suite), self.maps.shape[0], *(len(v) for v in self.log_mass.values())]
        if any(k != n for k in lengths):
            raise StoreError(f"sample of {self.store!r}: per-galaxy arrays differ in length")

    def __len__(self) -> int:
        return len(self.models)

    @property
    def targets(self) -> tuple[str, ...]:
        """Targets this sample has (``M_5r_half`` needs a schema-2 store)."""
        return tuple(t for t in TARGETS if t in self.log_mass)

    def rows(self, models: Sequence[int]) -> np.ndarray:
        """Positions in this sample of the store indices ``models``."""
        pos = np.searchsorted(self.models, models)
        if np.any(pos >= len(self.models)) or np.any(self.models[np.minimum(pos, len(self) - 1)] != models):
            raise StoreError(f"sample of {self.store!r}: models not done: "
                             f"{sorted(set(np.asarray(models).tolist()) - set(self.models.tolist()))[:10]}")
        return pos


def load_sample(store: str | Path, suites: Sequence[str] | None = None, max_models: int | None = None
                ) -> Sample:
    """Read the done models of ``store`` (of ``suites``; the first ``max_models`` in index order).

    Raises
    ------
    StoreError
        If the store does not exist or has no done model of those suites.
    """
    from gcs_hpc.galaxy import disk_size_kpc
    from gcs_hpc.learn.data import done_models, open_store, select_suites, string_coord
    from gcs_hpc.specs import GalaxySpec

    ds = open_store(store)
    models = select_suites(ds, done_models(ds), suites)
    if max_models is not None:
        models = models[:max_models]
    if len(models) == 0:
        raise StoreError(f"store {str(store)!r} has no done model"
                         + ("" if suites is None else f" of suites {list(suites)}"))
    sub = ds.isel(model=models)
    log_mass = {"M_total": np.log10(np.asarray(sub["M_total"].values, dtype=np.float64))}
    phase = r_half = None
    if "enclosed_mass" in ds.variables:
        from gcs_hpc.store import read_enclosed_mass

        log_mass["M_5r_half"] = np.log10(read_enclosed_mass(sub, TARGET_RADIUS))
        phase = np.asarray(sub["gc_phase_space"].values, dtype=np.float64)
        r_half = np.asarray(sub["r_half"].values, dtype=np.float64)
    return Sample(store=str(store), models=np.asarray(models, dtype=np.int64),
                  suite=string_coord(ds, "suite")[models], log_mass=log_mass,
                  maps=np.asarray(sub["maps"].values, dtype=np.float32),
                  theta=np.asarray(ds["theta"].values, dtype=np.float64),
                  phi=np.asarray(ds["phi"].values, dtype=np.float64),
                  label_attrs={k: v for k, v in ds.attrs.items() if str(k).startswith("label_")},
                  phase_space=phase, r_half=r_half,
                  disk_size_kpc=np.array([disk_size_kpc(GalaxySpec(M_halo=float(m)))
                                          for m in np.asarray(sub["M_halo"].values)]))


def view_angles(n_angles: int, n_views: int) -> np.ndarray:
    """``n_views`` stored angle indices spread evenly over ``0 .. n_angles - 1`` (as the comparison)."""
    if n_views < 1:
        raise ConfigError(f"n_views = {n_views} must be >= 1")
    return np.unique(np.linspace(0, n_angles - 1, min(n_views, n_angles)).round().astype(np.int64))


def projected_gcs(sample: Sample, row: int, angles: Sequence[int]) -> tuple[np.ndarray, ...]:
    """GCs of galaxy ``row`` seen along stored ``angles``: x, y (kpc), v (km/s), each (n_views, n_gc)."""
    from gcs_hpc.maps import project

    if sample.phase_space is None:
        raise StoreError(f"store {sample.store!r} keeps no GC phase space (schema version 1): the classic "
                         "estimators need the models re-run (gcs_hpc.experiments.compare)")
    ps = sample.phase_space[row]
    ps = ps[np.all(np.isfinite(ps), axis=1)]
    angles = np.asarray(angles, dtype=np.int64)
    x, y, v = project(ps[:, :3], ps[:, 3:], sample.theta[angles], sample.phi[angles])
    return np.asarray(x), np.asarray(y), np.asarray(v)


def estimators_within(r_out_kpc: float | None, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The classic estimators (default set, or ``base``) with their outer radius fixed to ``r_out_kpc``
    (None: each sample's outermost GC)."""
    from gcs_hpc.observe.estimators import default_estimators

    out = {}
    for name, est in (default_estimators() if base is None else base).items():
        est = copy.copy(est)
        est.r_out_kpc = None if r_out_kpc is None else float(r_out_kpc)
        out[name] = est
    return out
