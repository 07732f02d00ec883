"""Globular cluster catalogues: the VizieR TSV layout and plain CSV, read into one :class:`GCCatalog`.

Two layouts are read:

- **VizieR TSV** (``asu-tsv`` output, e.g. Forbes et al. 2017, AJ 153, 114, table 5, the SLUGGS GC
  radial velocities): ``#`` comment lines, a column-name line, a units line, a line of dashes, then
  tab-separated rows. The galaxy of each GC is the prefix of its ``Star`` identifier before ``_S``
  (``NGC720_S12`` -> ``NGC720``).
- **CSV** with a header of named columns: right ascension and declination in degrees, the
  line-of-sight velocity and its error in km/s, optionally a galaxy column. Accepted names
  (case-insensitive) are listed in :data:`COLUMN_ALIASES`.

Every problem (missing column, non-numeric value, unknown galaxy) raises
:class:`gcs_hpc.errors.CatalogError` naming the file, the line and the column.

Input checks, and what is refused or kept:

- Velocities must lie in :data:`HELIOCENTRIC_RANGE_KMS` and errors in [0, :data:`MAX_V_ERR_KMS`] km/s;
  values outside (typically m/s given as km/s) are refused, naming the column, the lines and the range.
- A blank velocity or error cell in a **VizieR TSV** is VizieR's marker of a missing value: the row is a
  GC without a velocity and is not used, but it is not dropped silently: :attr:`GCCatalog.no_velocity`
  keeps its line and galaxy, and ``python -m gcs_hpc.observe`` prints a warning counting them (and
  reports ``n_gc_without_velocity``). In a **CSV** a blank velocity cell is refused, naming every such
  line (delete the rows to leave those GCs out).
- Duplicate GC identifiers are refused by :meth:`GCCatalog.check_unique_ids` (naming the identifiers and
  their lines); :meth:`GCCatalog.drop_duplicate_ids` keeps the first row of each instead, and is only
  used when asked for (``--drop-duplicate-ids``).
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from gcs_hpc.errors import CatalogError

#: Accepted column names (lower case) for each quantity of a GC catalogue.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "ra": ("ra", "raj2000", "ra_deg", "_raj2000"),
    "dec": ("dec", "dej2000", "dec_deg", "de", "_dej2000"),
    "v": ("v", "velocity", "hrv", "v_los", "vlos", "rv", "v_kms", "velocity_kms"),
    "v_err": ("v_err", "e_hrv", "e_v", "verr", "velocity_err", "v_err_kms", "e_velocity", "dv"),
    "galaxy": ("galaxy", "host", "name_galaxy"),
    "id": ("id", "star", "name", "gc", "gc_id"),
}

_REQUIRED = ("ra", "dec", "v", "v_err")

#: Allowed heliocentric GC velocities, km/s: the systemic velocities :class:`~gcs_hpc.observe.galaxies.Galaxy`
#: accepts. Velocities in m/s mistaken for km/s fall outside (|v| >= 1e5 for |v| >= 100 km/s).
HELIOCENTRIC_RANGE_KMS: tuple[float, float] = (-1.0e4, 1.0e5)
#: Largest velocity error accepted, km/s (GC velocities are measured to ~5-50 km/s).
MAX_V_ERR_KMS = 5000.0
#: Lines (or identifiers) named in one error message at most.
_MAX_NAMED = 10


def name_rows(lines: Sequence[int] | None, ids: Sequence[str], mask: np.ndarray) -> str:
    """'lines 3, 7, 12' (or 'GCs gc0, gc5' without line numbers) for the rows where ``mask`` is true,
    at most ten named and the rest counted."""
    idx = np.flatnonzero(mask)
    named = [str(int(lines[i])) for i in idx] if lines is not None else [str(ids[i]) for i in idx]
    more = f" and {len(named) - _MAX_NAMED} more" if len(named) > _MAX_NAMED else ""
    kind = ("line" if lines is not None else "GC") + ("s" if len(named) > 1 else "")
    return f"{kind} " + ", ".join(named[:_MAX_NAMED]) + more


def normalise_galaxy_name(name: str) -> str:
    """Return a canonical galaxy name: upper case, no spaces or underscores (``ngc 720`` -> ``NGC720``)."""
    return re.sub(r"[\s_]+", "", str(name)).upper()


def close_matches(name: str, known: Sequence[str]) -> str:
    """A phrase listing the known names closest to ``name`` (for error messages)."""
    near = difflib.get_close_matches(normalise_galaxy_name(name), list(known), n=5, cutoff=0.5)
    if near:
        return "close matches: " + ", ".join(near)
    return "known galaxies: " + ", ".join(sorted(known))


@dataclass(frozen=True)
class GCCatalog:
    """Globular clusters with sky positions and line-of-sight velocities.

    Attributes
    ----------
    ra_deg, dec_deg
        Right ascension and declination (J2000), degrees, shape (n,).
    v_kms
        Heliocentric line-of-sight velocity, km/s.
    v_err_kms
        Its 1-sigma uncertainty, km/s (>= 0).
    galaxy
        Canonical host galaxy name per GC (``""`` where the file gives none).
    ids
        Identifier per GC.
    source
        Where the catalogue came from (a path), for messages and provenance.
    lines
        Line of the file each GC was read from (``None`` when not read from a file), for messages.
    no_velocity
        (line, canonical galaxy) of the rows skipped because their velocity or its error was blank
        (VizieR's missing value): GCs without a velocity, counted rather than dropped silently.
    """

    ra_deg: np.ndarray
    dec_deg: np.ndarray
    v_kms: np.ndarray
    v_err_kms: np.ndarray
    galaxy: np.ndarray
    ids: np.ndarray
    source: str = ""
    lines: np.ndarray | None = None
    no_velocity: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.ra_deg)
        for name in ("dec_deg", "v_kms", "v_err_kms", "galaxy", "ids") + (("lines",) if self.lines is not None
                                                                            else ()):
            if len(getattr(self, name)) != n:
                raise CatalogError(f"catalogue {self.source!r}: column {name} has {len(getattr(self, name))} "
                                   f"entries, expected {n}")
        for name in ("ra_deg", "dec_deg", "v_kms", "v_err_kms"):
            values = getattr(self, name)
            if not np.all(np.isfinite(values)):
                raise CatalogError(f"catalogue {self.source!r}: column {name} has non-finite values at "
                                   + name_rows(self.lines, self.ids, ~np.isfinite(values)))
        lo, hi = HELIOCENTRIC_RANGE_KMS
        checks = (("RA", self.ra_deg, "[0, 360) deg", (self.ra_deg < 0.0) | (self.ra_deg >= 360.0)),
                  ("Dec", self.dec_deg, "[-90, 90] deg", np.abs(self.dec_deg) > 90.0),
                  ("velocity", self.v_kms, f"[{lo:g}, {hi:g}] km/s (heliocentric; m/s given as km/s?)",
                   (self.v_kms < lo) | (self.v_kms > hi)),
                  ("velocity error", self.v_err_kms, f"[0, {MAX_V_ERR_KMS:g}] km/s",
                   (self.v_err_kms < 0.0) | (self.v_err_kms > MAX_V_ERR_KMS)))
        for label, values, allowed, bad in checks:
            if np.any(bad):
                raise CatalogError(f"catalogue {self.source!r}: {label} out of range at "
                                   f"{name_rows(self.lines, self.ids, bad)} "
                                   f"(e.g. {float(values[bad][0]):g}); "
                                   f"allowed range {allowed}")

    def __len__(self) -> int:
        return len(self.ra_deg)

    @property
    def galaxies(self) -> list[str]:
        """Sorted names of the galaxies in the catalogue."""
        return sorted({g for g in self.galaxy.tolist() if g})

    def select(self, mask: np.ndarray, no_velocity: tuple[tuple[int, str], ...] | None = None) -> GCCatalog:
        """Return the GCs where ``mask`` is true (``no_velocity``: the skipped rows to keep, default all)."""
        return GCCatalog(self.ra_deg[mask], self.dec_deg[mask], self.v_kms[mask], self.v_err_kms[mask],
                         self.galaxy[mask], self.ids[mask], self.source,
                         None if self.lines is None else self.lines[mask],
                         self.no_velocity if no_velocity is None else no_velocity)

    def duplicate_ids(self) -> dict[str, list[int]]:
        """Identifiers that occur more than once -> their rows (line numbers when known, else indices)."""
        rows: dict[str, list[int]] = {}
        for i, ident in enumerate(self.ids.tolist()):
            rows.setdefault(ident, []).append(int(self.lines[i]) if self.lines is not None else i)
        return {k: v for k, v in rows.items() if len(v) > 1}

    def check_unique_ids(self) -> GCCatalog:
        """Return the catalogue unchanged if every GC identifier occurs once.

        Raises
        ------
        CatalogError
            Naming the duplicated identifiers and their lines: a GC counted twice shrinks every error bar.
        """
        dups = self.duplicate_ids()
        if dups:
            kind = "lines" if self.lines is not None else "rows"
            named = "; ".join(f"{k} ({kind} {', '.join(map(str, v))})"
                              for k, v in list(dups.items())[:_MAX_NAMED])
            more = f" and {len(dups) - _MAX_NAMED} more" if len(dups) > _MAX_NAMED else ""
            raise CatalogError(f"catalogue {self.source!r}: {len(dups)} GC identifier(s) occur more than "
                               f"once: {named}{more}; allowed: each GC once (remove the repeats, or pass "
                               "--drop-duplicate-ids to keep the first row of each)")
        return self

    def drop_duplicate_ids(self) -> tuple[GCCatalog, int]:
        """Keep the first row of each GC identifier; return the catalogue and the number of rows dropped."""
        _, first = np.unique(self.ids, return_index=True)
        keep = np.zeros(len(self), dtype=bool)
        keep[first] = True
        return self.select(keep), int(len(self) - keep.sum())

    def for_galaxy(self, name: str) -> GCCatalog:
        """The GCs of one galaxy.

        A catalogue without a galaxy column is taken to hold a single galaxy and is returned whole.

        Raises
        ------
        CatalogError
            If the galaxy is not in the catalogue; the message lists close matches.
        """
        if not self.galaxies:
            return self
        key = normalise_galaxy_name(name)
        mask = self.galaxy == key
        if not np.any(mask):
            no_v = sum(1 for _, g in self.no_velocity if g == key)
            if no_v:
                raise CatalogError(f"galaxy {name!r}: all its {no_v} GCs in catalogue {self.source!r} have a "
                                   "blank velocity or error; none can be used")
            raise CatalogError(f"galaxy {name!r} is not in catalogue {self.source!r}; "
                               + close_matches(name, self.galaxies))
        return self.select(mask, tuple((line, g) for line, g in self.no_velocity if g == key))


def _find_columns(header: Sequence[str], path: str) -> dict[str, int]:
    lower = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for key, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in lower:
                found[key] = lower.index(alias)
                break
    missing = [k for k in _REQUIRED if k not in found]
    if missing:
        details = "; ".join(f"{k}: one of {', '.join(COLUMN_ALIASES[k])}" for k in missing)
        raise CatalogError(f"catalogue {path!r}: missing column(s) {', '.join(missing)} ({details}); "
                           f"columns present: {', '.join(h.strip() for h in header)}")
    return found


def _to_float(text: str, path: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CatalogError(f"catalogue {path!r} line {line}: column {column} = {text.strip()!r} is not a "
                           "number") from None
    if not np.isfinite(value):
        raise CatalogError(f"catalogue {path!r} line {line}: column {column} = {text.strip()!r} is not finite")
    return value


def _galaxy_from_star(star: str) -> str:
    """The SLUGGS convention: the galaxy is the prefix of the Star identifier before ``_S``."""
    head, sep, _ = star.strip().partition("_S")
    return normalise_galaxy_name(head) if sep else ""


def _build(rows: list[tuple[int, list[str]]], header: list[str], path: str, *, star_galaxies: bool,
           skip_blank_velocity: bool) -> GCCatalog:
    cols = _find_columns(header, path)
    ra, dec, v, verr, gal, ids, numbers = [], [], [], [], [], [], []
    no_velocity: list[tuple[int, str]] = []
    for line, fields in rows:
        if len(fields) < len(header):
            fields = fields + [""] * (len(header) - len(fields))
        if not fields[cols["v"]].strip() or not fields[cols["v_err"]].strip():
            # VizieR marks missing values with blanks ("?" in the format): a GC without a velocity
            ident = fields[cols["id"]].strip() if "id" in cols else ""
            host = (normalise_galaxy_name(fields[cols["galaxy"]]) if "galaxy" in cols
                    else _galaxy_from_star(ident) if star_galaxies else "")
            no_velocity.append((line, host))
            continue
        name_cols = {"ra": "RA", "dec": "Dec", "v": header[cols["v"]].strip(),
                     "v_err": header[cols["v_err"]].strip()}
        ra.append(_to_float(fields[cols["ra"]], path, line, name_cols["ra"]))
        dec.append(_to_float(fields[cols["dec"]], path, line, name_cols["dec"]))
        v.append(_to_float(fields[cols["v"]], path, line, name_cols["v"]))
        verr.append(_to_float(fields[cols["v_err"]], path, line, name_cols["v_err"]))
        ident = fields[cols["id"]].strip() if "id" in cols else str(len(ids))
        ids.append(ident)
        numbers.append(line)
        if "galaxy" in cols:
            gal.append(normalise_galaxy_name(fields[cols["galaxy"]]))
        elif star_galaxies and "id" in cols:
            gal.append(_galaxy_from_star(ident))
        else:
            gal.append("")
    if no_velocity and not skip_blank_velocity:
        lines = [line for line, _ in no_velocity]
        raise CatalogError(f"catalogue {path!r}: blank velocity or velocity error at "
                           f"{name_rows(lines, [], np.ones(len(lines), dtype=bool))}; allowed: a number in "
                           "every row (delete the rows of GCs without a velocity)")
    if not ra:
        raise CatalogError(f"catalogue {path!r} has no rows with a velocity")
    return GCCatalog(np.array(ra), np.array(dec), np.array(v), np.array(verr), np.array(gal, dtype=str),
                     np.array(ids, dtype=str), path, np.array(numbers, dtype=np.int64), tuple(no_velocity))


def split_vizier_tsv(path: str | Path) -> tuple[list[str], list[str], list[tuple[int, list[str]]]]:
    """Split a VizieR TSV file into (column names, units, numbered data rows).

    Raises
    ------
    CatalogError
        If the column-name / units / dashes lines are missing.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"catalogue file {str(path)!r} does not exist")
    lines = path.read_text().splitlines()
    body = [(i + 1, line) for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]
    if len(body) < 3 or not set(body[2][1].replace("\t", "").strip()) <= {"-"}:
        raise CatalogError(f"catalogue {str(path)!r} is not in the VizieR TSV layout: expected a column-name "
                           "line, a units line and a line of dashes after the '#' header")
    header = body[0][1].split("\t")
    units = body[1][1].split("\t")
    rows = [(n, line.split("\t")) for n, line in body[3:]]
    return header, units, rows


def read_vizier_tsv(path: str | Path) -> GCCatalog:
    """Read a GC catalogue in the VizieR TSV layout (e.g. Forbes et al. 2017, table 5).

    Rows whose velocity or error is blank are skipped (VizieR's marker for a missing value) and recorded
    in :attr:`GCCatalog.no_velocity`.
    """
    header, _, rows = split_vizier_tsv(path)
    return _build(rows, header, str(path), star_galaxies=True, skip_blank_velocity=True)


def read_csv(path: str | Path) -> GCCatalog:
    """Read a GC catalogue from a CSV file with a header of named columns (see :data:`COLUMN_ALIASES`)."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"catalogue file {str(path)!r} does not exist")
    with path.open(newline="") as handle:
        reader = csv.reader(row for row in handle if not row.startswith("#"))
        try:
            header = next(reader)
        except StopIteration:
            raise CatalogError(f"catalogue {str(path)!r} is empty") from None
        rows = [(reader.line_num, r) for r in reader if any(f.strip() for f in r)]
    return _build(rows, header, str(path), star_galaxies=True, skip_blank_velocity=False)


def read_catalog(path: str | Path) -> GCCatalog:
    """Read a GC catalogue, choosing the layout from the content (VizieR TSV if tab-separated with a
    dashes line, else CSV)."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"catalogue file {str(path)!r} does not exist")
    return read_vizier_tsv(path) if is_vizier_tsv(path) else read_csv(path)


def is_vizier_tsv(path: str | Path) -> bool:
    """True when the first line that is neither blank nor a ``#`` comment is tab-separated (VizieR TSV);
    otherwise the file is read as CSV."""
    with Path(path).open() as handle:
        first = next((line for line in handle if line.strip() and not line.startswith("#")), "")
    return "\t" in first
