"""Sky positions and heliocentric velocities -> projected positions (kpc) and line-of-sight velocities.

Positions use the gnomonic (tangent-plane) projection about the galaxy centre (e.g. Calabretta &
Greisen 2002, A&A 395, 1077, the ``TAN`` projection): standard coordinates xi (east) and eta (north),
then multiplied by the distance. Velocities are taken relative to the systemic velocity,
``v_los = v_helio - v_sys``; the (1 + v_sys / c) cosmological correction (< 1% for SLUGGS
galaxies) is not applied. A GC more than :data:`MAX_RELATIVE_VELOCITY_KMS` from the systemic velocity
cannot be bound to the galaxy (escape speeds of galaxies and groups are below ~2000 km/s) and is refused,
most often a catalogue in m/s read as km/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gcs_hpc.errors import CatalogError
from gcs_hpc.observe.catalog import GCCatalog, name_rows
from gcs_hpc.observe.galaxies import Galaxy
from gcs_hpc.units import KPC_PER_MPC

#: Largest |v_helio - v_sys| accepted for a GC, km/s.
MAX_RELATIVE_VELOCITY_KMS = 5000.0


def gnomonic(ra_deg: np.ndarray, dec_deg: np.ndarray, ra0_deg: float, dec0_deg: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Tangent-plane standard coordinates (xi east, eta north) in radians about (ra0, dec0).

    Raises
    ------
    ValueError
        If a point lies 90 degrees or more from the tangent point (not projectable).
    """
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    ra0, dec0 = np.radians(ra0_deg), np.radians(dec0_deg)
    dra = ra - ra0
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(dra)
    if np.any(cos_c <= 0.0):
        raise ValueError("a position lies >= 90 deg from the projection centre; the gnomonic projection "
                         "is undefined there")
    xi = np.cos(dec) * np.sin(dra) / cos_c
    eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(dra)) / cos_c
    return xi, eta


@dataclass(frozen=True)
class ProjectedGCs:
    """GCs as an observer sees them, in the galaxy's frame.

    Attributes
    ----------
    x_kpc, y_kpc
        Projected positions, kpc (x east, y north; or x along the major axis when rotated).
    v_los_kms
        Line-of-sight velocity relative to the galaxy, km/s.
    v_err_kms
        Velocity uncertainty, km/s.
    """

    x_kpc: np.ndarray
    y_kpc: np.ndarray
    v_los_kms: np.ndarray
    v_err_kms: np.ndarray

    @property
    def R_kpc(self) -> np.ndarray:
        """Projected galactocentric radius, kpc."""
        return np.hypot(self.x_kpc, self.y_kpc)

    def __len__(self) -> int:
        return len(self.x_kpc)


def project_catalog(catalog: GCCatalog, galaxy: Galaxy, *, align_major_axis: bool = False) -> ProjectedGCs:
    """Project a galaxy's GCs onto the sky plane about its centre, in kpc, with velocities relative to
    the systemic velocity.

    Parameters
    ----------
    catalog
        The GCs of this galaxy (see :meth:`GCCatalog.for_galaxy`).
    galaxy
        Centre, distance and systemic velocity.
    align_major_axis
        Rotate so that the photometric major axis (``galaxy.position_angle_deg``, east of north) lies
        along +x. Requires the position angle.

    Raises
    ------
    CatalogError
        If a GC's velocity differs from the systemic velocity by more than
        :data:`MAX_RELATIVE_VELOCITY_KMS` (naming its lines).
    """
    v_los = catalog.v_kms - galaxy.v_sys_kms
    bad = np.abs(v_los) > MAX_RELATIVE_VELOCITY_KMS
    if np.any(bad):
        raise CatalogError(f"catalogue {catalog.source!r}: {int(bad.sum())} GC velocities of {galaxy.name} "
                           f"differ from its systemic velocity {galaxy.v_sys_kms:g} km/s by more than "
                           f"{MAX_RELATIVE_VELOCITY_KMS:g} km/s, at "
                           f"{name_rows(catalog.lines, catalog.ids, bad)} "
                           f"(e.g. v = {catalog.v_kms[bad][0]:g}); allowed range |v - v_sys| <= "
                           f"{MAX_RELATIVE_VELOCITY_KMS:g} km/s (velocity column in m/s instead of km/s?)")
    xi, eta = gnomonic(catalog.ra_deg, catalog.dec_deg, galaxy.ra_deg, galaxy.dec_deg)
    d_kpc = galaxy.distance_mpc * KPC_PER_MPC
    x, y = xi * d_kpc, eta * d_kpc
    if align_major_axis:
        if galaxy.position_angle_deg is None:
            from gcs_hpc.errors import ConfigError

            raise ConfigError(f"galaxy {galaxy.name}: position_angle_deg is unknown; cannot align the major "
                              "axis (give it or leave the axes east/north)")
        pa = np.radians(galaxy.position_angle_deg)
        # unit vector of the major axis in (east, north): (sin PA, cos PA)
        x, y = x * np.sin(pa) + y * np.cos(pa), -x * np.cos(pa) + y * np.sin(pa)
    return ProjectedGCs(x, y, v_los, catalog.v_err_kms.copy())
