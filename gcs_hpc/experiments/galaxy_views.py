"""Views of the sample's galaxies for the workstation studies: the stored (ideal) maps, or maps and GC
samples drawn under an observation model from the stored GC phase space.

Two switches, one interface (:class:`Views`): ``observation=None`` is the paper's setting (the store's
maps along stored angles, every GC for the classic estimators); an
:class:`gcs_hpc.maps.observation.ObservationSpec` (e.g. ``configs/observation/sluggs.yaml``) re-makes
each view from the phase space with :func:`gcs_hpc.maps.observation.observe_views` and
:func:`gcs_hpc.maps.observation.sky_maps` (the code :mod:`gcs_hpc.observe` uses for real catalogues),
and the classic estimators weigh exactly the GCs that view saw, with their velocity errors. So the CNN
and the classic estimators always judge the same observation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from gcs_hpc.errors import ConfigError
from gcs_hpc.experiments.sample import Sample, estimators_within, projected_gcs

#: Classic estimators of each target use the GCs within this many projected R_half (None: all GCs).
CLASSIC_WITHIN_R_HALF: dict[str, float | None] = {"M_total": None, "M_5r_half": 5.0}
#: Galaxies whose views are drawn at once (bounds memory: views x GCs x 6 floats).
CHUNK_ROWS = 64


@dataclass(frozen=True)
class Views:
    """Views of some galaxies of a sample.

    Attributes
    ----------
    images
        (n_rows, n_views, 2, npix, npix) float32 maps, km/s.
    log_scale
        (n_rows, n_views) log10 of the map unit in kpc (the net's scale input), None for stored maps.
    classic
        ``{target: {estimator: (n_rows, n_views) log10 Msun}}`` (NaN: too few GCs); empty if not asked.
    """

    images: np.ndarray = field(repr=False)
    log_scale: np.ndarray | None = field(repr=False)
    classic: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def flat_images(self) -> np.ndarray:
        """(n_rows * n_views, 2, npix, npix)."""
        return self.images.reshape(-1, *self.images.shape[2:])

    def flat_scale(self) -> np.ndarray | None:
        """(n_rows * n_views,) or None."""
        return None if self.log_scale is None else self.log_scale.reshape(-1)


def _classic_one(x: np.ndarray, y: np.ndarray, v: np.ndarray, v_err: np.ndarray | None, r_half: float,
                 within: float | None) -> dict[str, float]:
    from gcs_hpc.observe.estimators import MIN_TRACERS

    r_out = None
    if within is not None:
        r_out = within * r_half
        keep = np.hypot(x, y) <= r_out
        x, y, v = x[keep], y[keep], v[keep]
        v_err = None if v_err is None else v_err[keep]
    out = {}
    for name, est in estimators_within(r_out).items():
        m = est.mass(x, y, v, v_err) if len(x) >= MIN_TRACERS else float("nan")
        out[name] = float(np.log10(m)) if np.isfinite(m) and m > 0 else float("nan")
    return out


def _empty_classic(targets: Sequence[str], n_rows: int, n_views: int) -> dict[str, dict[str, np.ndarray]]:
    names = list(estimators_within(None))
    return {t: {n: np.full((n_rows, n_views), np.nan) for n in names} for t in targets}


def _check_mask(mask: np.ndarray | None, n_rows: int, n_views: int) -> np.ndarray:
    if mask is None:
        return np.ones((n_rows, n_views), dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n_rows, n_views):
        raise ConfigError(f"classic_mask has shape {mask.shape}; allowed: (rows, views) = "
                          f"{(n_rows, n_views)}")
    return mask


def stored_views(sample: Sample, rows: Sequence[int], angles: Sequence[int],
                 classic_targets: Sequence[str] = (), classic_mask: np.ndarray | None = None) -> Views:
    """The store's maps of ``rows`` along stored ``angles``; classic estimators on every GC (only of the
    views where ``classic_mask`` (n_rows, n_views) is true, NaN elsewhere)."""
    rows = np.asarray(rows, dtype=np.int64)
    angles = np.asarray(angles, dtype=np.int64)
    classic = _empty_classic(classic_targets, len(rows), len(angles))
    mask = _check_mask(classic_mask, len(rows), len(angles))
    if classic_targets:
        for i, row in enumerate(rows):
            if not mask[i].any():
                continue
            x, y, v = projected_gcs(sample, int(row), angles)
            for k, angle in enumerate(angles):
                if not mask[i, k]:
                    continue
                r_half = float(sample.r_half[row, angle]) if sample.r_half is not None else float("nan")
                for t in classic_targets:
                    for name, val in _classic_one(x[k], y[k], v[k], None, r_half,
                                                  CLASSIC_WITHIN_R_HALF[t]).items():
                        classic[t][name][i, k] = val
    return Views(sample.maps[rows][:, angles], None, classic)


def observed_views(sample: Sample, rows: Sequence[int], obs: Any, *, n_views: int, seed: int,
                   angles: Sequence[int] | None = None, classic_targets: Sequence[str] = (),
                   classic_mask: np.ndarray | None = None) -> Views:
    """``n_views`` observation draws per galaxy of ``rows`` under ``obs``: along stored ``angles`` (then
    ``n_views = len(angles)``), else along directions uniform on the sphere (the projected R_half of the
    nearest stored angle sets the radial coverage and the map unit). Deterministic by ``seed`` (the
    draws do not depend on ``classic_mask``: the classic estimators run only on the views where it is
    true, NaN elsewhere)."""
    from gcs_hpc.maps.observation import isotropic_directions, nearest_angle, observe_views, sky_maps
    from gcs_hpc.store import read_map_spec

    if sample.phase_space is None or sample.r_half is None:
        raise ConfigError(f"observation model {obs.name!r}: store {sample.store!r} keeps no GC phase space "
                          "(schema version 1); re-run its campaign with this gcs_hpc")
    map_spec = obs.map_spec(read_map_spec(sample.store))
    rows = np.asarray(rows, dtype=np.int64)
    if angles is not None:
        n_views = len(angles)
    rng = np.random.default_rng(seed)
    npix = map_spec.npix
    images = np.zeros((len(rows), n_views, 2, npix, npix), dtype=np.float32)
    log_scale = np.zeros((len(rows), n_views))
    classic = _empty_classic(classic_targets, len(rows), n_views)
    mask = _check_mask(classic_mask, len(rows), n_views)
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start:start + CHUNK_ROWS]
        n = len(chunk) * n_views
        if angles is not None:
            idx = np.tile(np.asarray(angles, dtype=np.int64), len(chunk))
            theta, phi = sample.theta[idx], sample.phi[idx]
        else:
            theta, phi = isotropic_directions(n, rng)
            idx = nearest_angle(theta, phi, sample.theta, sample.phi)
        model_rows = np.repeat(chunk, n_views)
        r_half = sample.r_half[model_rows, idx]
        if map_spec.fov_unit == "R_half":
            unit = r_half
        elif map_spec.fov_unit == "kpc":
            unit = np.ones(n)
        else:
            unit = sample.disk_size_kpc[model_rows]
        ps = sample.phase_space[model_rows]
        sky = observe_views(ps[..., :3], ps[..., 3:], theta, phi, r_half, 0.5 * map_spec.fov * unit, obs, rng)
        maps, _ = sky_maps(sky.x_kpc, sky.y_kpc, sky.v_kms, map_spec, unit, sky.v_err_kms, sky.seen)
        images[start:start + len(chunk)] = np.asarray(maps, dtype=np.float32).reshape(len(chunk), n_views,
                                                                                      2, npix, npix)
        log_scale[start:start + len(chunk)] = np.log10(unit).reshape(len(chunk), n_views)
        for j in range(n if classic_targets else 0):
            if not mask[start + j // n_views, j % n_views]:
                continue
            seen = np.asarray(sky.seen[j], dtype=bool)
            err = None if sky.v_err_kms is None else np.asarray(sky.v_err_kms[j])[seen]
            for t in classic_targets:
                vals = _classic_one(np.asarray(sky.x_kpc[j])[seen], np.asarray(sky.y_kpc[j])[seen],
                                    np.asarray(sky.v_kms[j])[seen], err, float(r_half[j]),
                                    CLASSIC_WITHIN_R_HALF[t])
                for name, val in vals.items():
                    classic[t][name][start + j // n_views, j % n_views] = val
    return Views(images, log_scale if map_spec.fov_unit != "R_d" else None, classic)


def fraction_in_field(sample: Sample, map_spec: Any, rows: Sequence[int], angle: int = 0) -> float:
    """Median share of a galaxy's GCs inside the field of view of ``map_spec`` along stored ``angle``
    (what the maps can see; the classic estimators of M_total weigh every GC)."""
    shares = []
    for row in rows:
        x, y, _ = projected_gcs(sample, int(row), [angle])
        unit = {"R_half": float(sample.r_half[row, angle]) if sample.r_half is not None else float("nan"),
                "kpc": 1.0}.get(map_spec.fov_unit, float(sample.disk_size_kpc[row]))
        half = 0.5 * map_spec.fov * unit
        shares.append(float(np.mean((np.abs(x[0]) < half) & (np.abs(y[0]) < half))))
    return float(np.median(shares)) if shares else float("nan")
