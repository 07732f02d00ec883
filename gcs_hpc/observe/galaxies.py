"""Galaxy metadata needed to turn a GC catalogue into maps: distance, systemic velocity, centre, size.

The metadata come from the SLUGGS galaxy table (Forbes et al. 2017, AJ 153, 114, table 1, VizieR TSV
layout), from a CSV file with named columns, or are given by hand as a :class:`Galaxy`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from gcs_hpc.config import check_range
from gcs_hpc.errors import CatalogError, ConfigError
from gcs_hpc.observe.catalog import (HELIOCENTRIC_RANGE_KMS, close_matches, is_vizier_tsv,
                                    normalise_galaxy_name, split_vizier_tsv)
from gcs_hpc.units import KPC_PER_MPC, RAD_PER_ARCSEC

#: Accepted column names (lower case) of a galaxy table; the first alias of each is the CSV name.
GALAXY_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "galaxy", "ngc"),
    "distance_mpc": ("distance_mpc", "dist", "distance", "d_mpc"),
    "v_sys_kms": ("v_sys_kms", "vsys", "v_sys", "vsys_kms"),
    "ra_deg": ("ra_deg", "raj2000", "ra"),
    "dec_deg": ("dec_deg", "dej2000", "dec"),
    "r_eff_arcsec": ("r_eff_arcsec", "reff", "r_eff", "re_arcsec"),
    "position_angle_deg": ("position_angle_deg", "pa", "pa_deg", "position_angle"),
}
_OPTIONAL = ("position_angle_deg",)


@dataclass(frozen=True)
class Galaxy:
    """One observed galaxy.

    Attributes
    ----------
    name
        Canonical name (``NGC3115``); normalised on construction.
    distance_mpc
        Distance, Mpc.
    v_sys_kms
        Systemic (heliocentric) velocity, km/s.
    ra_deg, dec_deg
        Centre (J2000), degrees.
    r_eff_arcsec
        Effective (projected half-light) radius, arcsec; ``None`` when unknown.
    position_angle_deg
        Photometric major-axis position angle, degrees east of north; ``None`` when unknown.
    """

    name: str
    distance_mpc: float
    v_sys_kms: float
    ra_deg: float
    dec_deg: float
    r_eff_arcsec: float | None = None
    position_angle_deg: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", normalise_galaxy_name(self.name))
        where = f"galaxy[{self.name}]"
        check_range(where, "distance_mpc", self.distance_mpc, 0.0, 1.0e4, low_open=True)
        check_range(where, "v_sys_kms", self.v_sys_kms, *HELIOCENTRIC_RANGE_KMS)
        check_range(where, "ra_deg", self.ra_deg, 0.0, 360.0, high_open=True)
        check_range(where, "dec_deg", self.dec_deg, -90.0, 90.0)
        if self.r_eff_arcsec is not None:
            check_range(where, "r_eff_arcsec", self.r_eff_arcsec, 0.0, 1.0e5, low_open=True)
        if self.position_angle_deg is not None:
            check_range(where, "position_angle_deg", self.position_angle_deg, -360.0, 360.0)

    @property
    def kpc_per_arcsec(self) -> float:
        """Physical size of one arcsecond at the galaxy's distance (small-angle), kpc."""
        return self.distance_mpc * KPC_PER_MPC * RAD_PER_ARCSEC

    @property
    def r_eff_kpc(self) -> float:
        """Effective radius in kpc.

        Raises
        ------
        ConfigError
            If the effective radius is unknown.
        """
        if self.r_eff_arcsec is None:
            raise ConfigError(f"galaxy {self.name}: effective radius r_eff_arcsec is unknown; give it "
                              "(e.g. --reff-arcsec) to use a field of view in units of R_half")
        return self.r_eff_arcsec * self.kpc_per_arcsec


def _column_index(header: list[str], key: str, path: str) -> int | None:
    lower = [h.strip().lower() for h in header]
    for alias in GALAXY_COLUMNS[key]:
        if alias in lower:
            return lower.index(alias)
    if key in _OPTIONAL or key == "r_eff_arcsec":
        return None
    raise CatalogError(f"galaxy table {path!r}: missing column {key} (one of "
                       f"{', '.join(GALAXY_COLUMNS[key])}); columns present: "
                       f"{', '.join(h.strip() for h in header)}")


def _parse_rows(header: list[str], rows: list[tuple[int, list[str]]], path: str) -> dict[str, Galaxy]:
    index = {key: _column_index(header, key, path) for key in GALAXY_COLUMNS}
    name_header = header[index["name"]].strip().lower()
    table: dict[str, Galaxy] = {}
    for line, fields in rows:
        def number(key: str) -> float | None:
            i = index[key]
            if i is None or i >= len(fields) or not fields[i].strip():
                if key in _OPTIONAL or key == "r_eff_arcsec":
                    return None
                raise CatalogError(f"galaxy table {path!r} line {line}: column {header[i].strip() if i is not None else key} "
                                   "is empty")
            try:
                value = float(fields[i])
            except ValueError:
                raise CatalogError(f"galaxy table {path!r} line {line}: column {header[i].strip()} = "
                                   f"{fields[i].strip()!r} is not a number") from None
            if not math.isfinite(value):
                raise CatalogError(f"galaxy table {path!r} line {line}: column {header[i].strip()} is not finite")
            return value

        raw_name = fields[index["name"]].strip()
        name = f"NGC{raw_name}" if name_header == "ngc" else raw_name
        try:
            galaxy = Galaxy(name=name, distance_mpc=number("distance_mpc"), v_sys_kms=number("v_sys_kms"),
                            ra_deg=number("ra_deg"), dec_deg=number("dec_deg"),
                            r_eff_arcsec=number("r_eff_arcsec"),
                            position_angle_deg=number("position_angle_deg"))
        except ConfigError as exc:
            raise CatalogError(f"galaxy table {path!r} line {line}: {exc}") from None
        table[galaxy.name] = galaxy
    if not table:
        raise CatalogError(f"galaxy table {path!r} has no rows")
    return table


def read_galaxy_table(path: str | Path) -> dict[str, Galaxy]:
    """Read galaxy metadata: the SLUGGS VizieR TSV (table 1 of Forbes et al. 2017) or a CSV.

    A CSV needs the columns ``name, distance_mpc, v_sys_kms, ra_deg, dec_deg`` and may have
    ``r_eff_arcsec`` and ``position_angle_deg`` (aliases in :data:`GALAXY_COLUMNS`).

    Returns
    -------
    dict
        Canonical galaxy name -> :class:`Galaxy`.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"galaxy table {str(path)!r} does not exist")
    if is_vizier_tsv(path):
        header, _, rows = split_vizier_tsv(path)
    else:
        with path.open(newline="") as handle:
            reader = csv.reader(row for row in handle if not row.startswith("#"))
            header = next(reader, None)
            if header is None:
                names = ", ".join(a[0] for a in GALAXY_COLUMNS.values())
                raise CatalogError(f"galaxy table {str(path)!r} is empty: expected a header line naming the "
                                   f"columns {names}, then one row per galaxy")
            rows = [(reader.line_num, r) for r in reader if any(f.strip() for f in r)]
    return _parse_rows(header, rows, str(path))


def find_galaxy(table: dict[str, Galaxy], name: str, source: str = "the galaxy table") -> Galaxy:
    """Look a galaxy up by name (spaces and case ignored).

    Raises
    ------
    CatalogError
        If it is not there; the message lists close matches.
    """
    key = normalise_galaxy_name(name)
    if key not in table:
        raise CatalogError(f"galaxy {name!r} is not in {source}; " + close_matches(name, list(table)))
    return table[key]
