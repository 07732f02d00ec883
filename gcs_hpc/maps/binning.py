"""Projected GCs -> 10x10 maps of line-of-sight velocity V and dispersion sigma, with Gaussian smoothing.

Grid
----
The map is a square of full width ``map_spec.fov`` (in ``map_spec.fov_unit``; one unit is ``scale_kpc``
kpc) centred on the galaxy, cut into ``npix x npix`` pixels. Array axes are ``(y, x)``: row 0 holds the
most negative y (draw with ``origin="lower"``); see :func:`pixel_centres`. GCs outside the square are
ignored.

Per-pixel moments and Gaussian smoothing
----------------------------------------
Each GC is assigned to its pixel. The paper smooths the maps with a Gaussian (Bekki et al. 2019; Diaz et
al. 2019). We smooth the *moments* rather than the finished V and sigma images, so that every pixel
value is an honest estimate from the GCs around it: the value at pixel q uses every GC i, placed at its
pixel centre, with weight ``w_i = exp(-d_iq^2 / (2 R_sm^2))`` where ``d_iq`` is the pixel-centre
distance and ``R_sm = map_spec.smoothing`` (the Gaussian's standard deviation, in ``fov_unit``). The
kernel is cut at 3 R_sm along each axis. Then

- ``V_q = sum w_i v_i / sum w_i`` (the weighted mean velocity), and
- ``sigma_q^2 = [sum w_i (v_i - V_q)^2 / sum w_i] / (1 - sum w_i^2 / (sum w_i)^2)``, the weighted
  variance with the reliability-weights bias correction, which is the usual ``ddof = 1`` sample variance
  when ``R_sm = 0`` (no smoothing: each pixel only sees its own GCs). It is unbiased for an isotropic
  population whatever the number of GCs. Like a dispersion measured in an aperture of that size, it
  includes the spread of mean velocities across the kernel (e.g. rotation), not only the local one. Where only one GC carries weight (``R_sm = 0`` and one GC in
  the pixel) no dispersion can be measured and sigma is 0.

With velocity errors ``v_err_kms`` the mean error variance of the GCs in the aperture (same weights) is
subtracted from ``sigma^2`` in quadrature, floored at 0. V stays the plain (weighted by position only)
mean: the intrinsic dispersion of a GCS (~100 km/s) dominates typical errors (5-30 km/s), so inverse
variance weights would gain little and would make V depend on which GCs happened to be measured well.

Empty pixels
------------
A pixel with no GC within the kernel support (no GC at all in it when ``R_sm = 0``) gets
``map_spec.empty_fill`` in both channels. ``counts`` always holds the raw number of GCs per pixel before
smoothing, so the mask of unpopulated pixels can always be recovered as ``counts == 0``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from gcs_hpc.specs import MapSpec

#: The Gaussian smoothing kernel is cut at this many R_sm along each axis.
KERNEL_TRUNCATE: float = 3.0
#: Points (maps x GCs) binned at once on the CPU: the temporaries of a block stay in the caches.
CACHE_BLOCK_POINTS: int = 1 << 15
#: Channel order of the maps.
CHANNELS: tuple[str, str] = ("sigma", "V")


def pixel_centres(map_spec: MapSpec) -> np.ndarray:
    """Pixel centres along x (and y), ascending, in ``map_spec.fov_unit``, shape (npix,)."""
    width = map_spec.fov / map_spec.npix
    return -0.5 * map_spec.fov + (np.arange(map_spec.npix) + 0.5) * width


def smoothing_kernel(map_spec: MapSpec) -> np.ndarray:
    """The 1D Gaussian weights between pixel rows (or columns), shape (npix, npix), NumPy float64.

    ``K[i, j] = exp(-(c_i - c_j)^2 / (2 R_sm^2))`` cut to 0 beyond ``KERNEL_TRUNCATE * R_sm``; the
    identity when ``R_sm = 0``. The 2D kernel is ``K[iy, jy] * K[ix, jx]``.
    """
    if map_spec.smoothing == 0.0:
        return np.eye(map_spec.npix)
    c = pixel_centres(map_spec)
    d = c[:, None] - c[None, :]
    k = np.exp(-0.5 * (d / map_spec.smoothing) ** 2)
    k[np.abs(d) > KERNEL_TRUNCATE * map_spec.smoothing * (1.0 + 1e-9)] = 0.0  # inclusive cut
    return k


def _pixel_moments(x: Any, y: Any, v: Any, err: Any, width: Any, npix: int,
                   xp: ModuleType, select: Any = None) -> tuple[Any, Any, Any, Any]:
    """Per-pixel number, mean velocity, sum of squared deviations from it and sum of error variances,
    for maps ``x, y, v`` of shape (n_maps, n_gc) with field widths ``width`` (n_maps, 1), counting only
    the GCs where ``select`` (same shape, or None: all); flat arrays of size n_maps * npix^2."""
    n_maps = x.shape[0]
    u = (x / width + 0.5) * npix
    w = (y / width + 0.5) * npix
    inside = (u >= 0) & (u < npix) & (w >= 0) & (w < npix)
    if select is not None:
        inside &= select
    ix = xp.clip(xp.floor(u), 0, npix - 1).astype(xp.int64)
    iy = xp.clip(xp.floor(w), 0, npix - 1).astype(xp.int64)
    flat = xp.arange(n_maps, dtype=xp.int64)[:, None] * (npix * npix) + iy * npix + ix
    idx = flat[inside]
    vv = v[inside]
    size = n_maps * npix * npix
    n_gc = xp.bincount(idx, minlength=size).astype(xp.float64)
    s1 = xp.bincount(idx, weights=vv, minlength=size)
    pixel_mean = xp.where(n_gc > 0, s1 / xp.maximum(n_gc, 1.0), 0.0)
    sum_sq_dev = xp.bincount(idx, weights=(vv - pixel_mean[idx]) ** 2, minlength=size)
    err_var = None if err is None else xp.bincount(idx, weights=err[inside] ** 2, minlength=size)
    return n_gc, pixel_mean, sum_sq_dev, err_var


def _smooth(field: Any, kernel: Any) -> Any:
    """Apply the separable kernel to the last two axes: K @ F @ K^T."""
    return kernel @ field @ kernel.T


def bin_projected(x_kpc: Any, y_kpc: Any, v_kms: Any, map_spec: MapSpec, scale_kpc: Any,
                  v_err_kms: Any = None, xp: ModuleType = np, *, select: Any = None) -> tuple[Any, Any]:
    """Bin projected GCs into smoothed maps of dispersion sigma and mean velocity V.

    Parameters
    ----------
    x_kpc, y_kpc
        Sky-plane positions relative to the centre, kpc, shape (..., n_gc) (e.g. (n_angles, n_gc)).
    v_kms
        Line-of-sight velocities relative to the galaxy, km/s, same shape.
    map_spec
        Grid, field of view, smoothing length and empty-pixel fill.
    scale_kpc
        Length of one ``map_spec.fov_unit`` in kpc: a scalar or an array of shape (...) (one per map,
        e.g. a projected half-mass radius per viewing angle).
    v_err_kms
        Optional per-GC velocity errors (1 sigma, km/s), broadcastable to ``v_kms``; subtracted from the
        dispersion in quadrature (see the module notes).
    xp
        Array module (NumPy or CuPy).
    select
        Optional boolean mask of the GCs each map uses, shape (..., n_gc): maps of different GC numbers
        in one call (the others are ignored as if they were outside the field; their values must still
        be finite).

    Returns
    -------
    maps
        float32, shape (..., 2, npix, npix), channels [sigma, V] in km/s.
    counts
        int32, shape (..., npix, npix): GCs per pixel before smoothing.

    Raises
    ------
    ValueError
        If the shapes do not broadcast, ``scale_kpc`` is not positive and finite, or a position or
        velocity is not finite.
    """
    try:
        x, y, v = xp.broadcast_arrays(xp.asarray(x_kpc, dtype=xp.float64),
                                      xp.asarray(y_kpc, dtype=xp.float64),
                                      xp.asarray(v_kms, dtype=xp.float64))
    except ValueError:
        raise ValueError(f"bin_projected: x_kpc {np.shape(x_kpc)}, y_kpc {np.shape(y_kpc)} and v_kms "
                         f"{np.shape(v_kms)} must have one shape (..., n_gc)") from None
    if x.ndim == 0:
        raise ValueError("bin_projected: x_kpc, y_kpc, v_kms must have shape (..., n_gc), got scalars")
    lead = x.shape[:-1]
    n_maps = int(np.prod(lead)) if lead else 1
    npix = map_spec.npix
    scale = xp.asarray(scale_kpc, dtype=xp.float64)
    if scale.shape not in ((), lead):
        raise ValueError(f"bin_projected: scale_kpc has shape {scale.shape}; allowed: a scalar or {lead}")
    if not bool(xp.all(xp.isfinite(scale) & (scale > 0))):
        raise ValueError("bin_projected: scale_kpc must be finite and > 0 "
                         "(the length of one fov_unit in kpc)")
    if not bool(xp.all(xp.isfinite(v))):
        raise ValueError("bin_projected: v_kms holds NaN or inf; allowed: finite velocities in km/s")
    if not bool(xp.all(xp.isfinite(x)) and xp.all(xp.isfinite(y))):
        raise ValueError("bin_projected: x_kpc or y_kpc holds NaN or inf; allowed: finite positions in kpc")
    scale = xp.broadcast_to(scale, lead).reshape(n_maps, 1)
    x = x.reshape(n_maps, -1)
    y = y.reshape(n_maps, -1)
    v = v.reshape(n_maps, -1)

    err = None
    if v_err_kms is not None:
        err = xp.broadcast_to(xp.asarray(v_err_kms, dtype=xp.float64), lead + (x.shape[-1],))
        err = err.reshape(n_maps, -1)
        if not bool(xp.all(xp.isfinite(err) & (err >= 0))):
            raise ValueError("bin_projected: v_err_kms must be finite and >= 0 km/s")

    if select is not None:
        try:
            select = xp.broadcast_to(xp.asarray(select, dtype=bool), lead + (x.shape[-1],))
        except ValueError:
            raise ValueError(f"bin_projected: select has shape {np.shape(select)}; allowed: "
                             f"{lead + (x.shape[-1],)}") from None
        select = select.reshape(n_maps, -1)
    # Blocks of maps small enough for the CPU caches (one block on a GPU); each map's sums run over its
    # GCs in the same order whatever the blocking, so the result does not depend on it.
    per_block = n_maps if xp is not np else max(1, CACHE_BLOCK_POINTS // max(x.shape[-1], 1))
    parts = [_pixel_moments(x[s], y[s], v[s], None if err is None else err[s],
                            map_spec.fov * scale[s], npix, xp, None if select is None else select[s])
             for s in (slice(i, i + per_block) for i in range(0, n_maps, per_block))]
    n_gc, pixel_mean, sum_sq_dev, err_var = (
        None if parts[0][k] is None else xp.concatenate([part[k] for part in parts]) for k in range(4))

    shape = (n_maps, npix, npix)
    n_gc = n_gc.reshape(shape)
    pixel_mean = pixel_mean.reshape(shape)
    sum_sq_dev = sum_sq_dev.reshape(shape)
    if err_var is not None:
        err_var = err_var.reshape(shape)
    # Reference velocity per map (its mean) keeps the moment sums well conditioned.
    total = xp.sum(n_gc, axis=(1, 2), keepdims=True)
    ref = xp.sum(n_gc * pixel_mean, axis=(1, 2), keepdims=True) / xp.maximum(total, 1.0)
    dev = xp.where(n_gc > 0, pixel_mean - ref, 0.0)

    kernel = xp.asarray(smoothing_kernel(map_spec))
    weight = _smooth(n_gc, kernel)
    weight_sq = _smooth(n_gc, kernel**2)
    first = _smooth(n_gc * dev, kernel)
    second = _smooth(sum_sq_dev + n_gc * dev**2, kernel)

    populated = weight > 0
    safe_weight = xp.where(populated, weight, 1.0)
    mean_dev = first / safe_weight
    raw_var = xp.maximum(second / safe_weight - mean_dev**2, 0.0)
    reliability = 1.0 - weight_sq / safe_weight**2
    measurable = reliability > 1e-12
    var = xp.where(measurable, raw_var / xp.where(measurable, reliability, 1.0), 0.0)
    if v_err_kms is not None:
        var = xp.maximum(var - _smooth(err_var, kernel) / safe_weight, 0.0)

    fill = map_spec.empty_fill
    sigma = xp.where(populated, xp.sqrt(var), fill)
    mean_v = xp.where(populated, mean_dev + ref, fill)
    maps = xp.stack([sigma, mean_v], axis=1).astype(xp.float32)
    counts = n_gc.astype(xp.int32)
    return maps.reshape(lead + (2, npix, npix)), counts.reshape(lead + (npix, npix))
