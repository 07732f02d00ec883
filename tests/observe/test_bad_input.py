"""Bad observe input (issue 12, probe 3): each is refused with a message naming the file, the lines or
field and the allowed range, or (blank VizieR velocities, --drop-duplicate-ids) counted in a warning;
``--out`` is never written on refusal and the JSON is strict (no NaN or Infinity)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gcs_hpc.errors import CatalogError, ConfigError
from gcs_hpc.observe.__main__ import main
from gcs_hpc.observe.catalog import read_catalog
from gcs_hpc.observe.estimators import default_estimators
from gcs_hpc.observe.galaxies import read_galaxy_table

HEADER = "id,RA,Dec,velocity,v_err,galaxy\n"
GALAXY = "name,distance_mpc,v_sys_kms,ra_deg,dec_deg,r_eff_arcsec\nNGC 1,10.0,1000.0,150.0,10.0,41.25\n"
N_GC = 60


def _rows(ids=None, v_scale=1.0, err="12", same_position=False):
    rng = np.random.default_rng(3)
    r = rng.uniform(0.0, 2.0 / 60.0, N_GC)
    t = rng.uniform(0.0, 2 * np.pi, N_GC)
    ra = 150.0 + r * np.cos(t) / np.cos(np.radians(10.0))
    dec = 10.0 + r * np.sin(t)
    if same_position:
        ra, dec = np.full(N_GC, 150.01), np.full(N_GC, 10.01)
    v = 1000.0 + rng.normal(0.0, 150.0, N_GC)
    ids = [f"gc{i}" for i in range(N_GC)] if ids is None else ids
    return [f"{g},{a:.6f},{d:.6f},{vv * v_scale:.1f},{err},NGC 1" for g, a, d, vv in zip(ids, ra, dec, v)]


def _run(tmp_path, rows, *extra, galaxy_text=GALAXY):
    cat, gal, out = tmp_path / "gcs.csv", tmp_path / "galaxies.csv", tmp_path / "out"
    cat.write_text(HEADER + "\n".join(rows) + "\n")
    gal.write_text(galaxy_text)
    code = main(["--catalog", str(cat), "--galaxies", str(gal), "--galaxy", "NGC 1", "--min-gcs", "20",
                 "--n-bootstrap", "20", "--out", str(out), *extra])
    return code, out


def test_duplicate_ids_are_refused_naming_them_or_dropped_on_request(tmp_path, capsys):
    ids = [f"gc{i % 50}" for i in range(N_GC)]       # gc0..gc9 twice, on lines 2..11 and 52..61
    code, out = _run(tmp_path, _rows(ids))
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "gcs.csv" in err and "10 GC identifier(s) occur more than once" in err
    assert "gc0 (lines 2, 52)" in err and "--drop-duplicate-ids" in err
    code, out = _run(tmp_path, _rows(ids), "--json", "--drop-duplicate-ids")
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert code == 0 and result["n_gc"] == 50 and result["n_duplicate_rows_dropped"] == 10
    assert "10 rows of repeated GC identifiers" in captured.err
    # without duplicates the same catalogue loses nothing
    cat = read_catalog(tmp_path / "gcs.csv")
    kept, dropped = cat.drop_duplicate_ids()
    assert dropped == 10 and sorted(kept.ids.tolist()) == sorted(set(ids))
    np.testing.assert_array_equal(kept.lines, np.arange(2, 52))   # first row of each


@pytest.mark.parametrize("v_scale,err,message", [
    (1000.0, "12", "velocity out of range at lines 2, 3,"),          # m/s given as km/s
    (1.0, "12000", "velocity error out of range at lines 2, 3,"),
])
def test_velocities_in_m_per_s_are_refused_naming_the_column_and_range(tmp_path, capsys, v_scale, err,
                                                                       message):
    code, out = _run(tmp_path, _rows(v_scale=v_scale, err=err))
    text = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert message in text and "and 50 more" in text and "allowed range [" in text and "km/s" in text


def test_velocities_far_from_the_systemic_one_are_refused(tmp_path, capsys):
    """|v| in the heliocentric range but 7000 km/s from v_sys: not bound to the galaxy (m/s of a galaxy
    near v = 0 look like this)."""
    rows = _rows()
    rows[4] = rows[4].replace(rows[4].split(",")[3], "8000.0")
    code, out = _run(tmp_path, rows)
    text = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "at line 6 (e.g. v = 8000)" in text and "allowed range |v - v_sys| <= 5000 km/s" in text


def test_blank_velocities_are_named_in_a_csv_and_counted_in_a_vizier_tsv(tmp_path, capsys):
    rows = _rows()
    rows[3] = rows[3].rsplit(",", 2)[0] + ",,NGC 1"                   # blank error on line 5
    parts = rows[7].split(",")
    rows[7] = ",".join(parts[:3] + [""] + parts[4:])                  # blank velocity on line 9
    code, out = _run(tmp_path, rows)
    text = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "blank velocity or velocity error at lines 5, 9" in text
    # VizieR marks missing values with blanks: those GCs are left out, counted, and reported
    tsv = tmp_path / "gcs.tsv"
    lines = ["#", "Star\tRAJ2000\tDEJ2000\tHRV\te_HRV", "\tdeg\tdeg\tkm/s\tkm/s",
             "----\t----\t----\t---\t---"]
    for i, row in enumerate(_rows()):
        _, ra, dec, v, _, _ = row.split(",")
        lines.append(f"NGC1_S{i}\t{ra}\t{dec}\t{'' if i in (2, 30) else v}\t{'' if i in (2, 30) else 12}")
    tsv.write_text("\n".join(lines) + "\n")
    gal = tmp_path / "galaxies.csv"
    assert main(["--catalog", str(tsv), "--galaxies", str(gal), "--galaxy", "NGC 1", "--min-gcs", "20",
                 "--n-bootstrap", "20", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["n_gc"] == N_GC - 2 and result["n_gc_without_velocity"] == 2
    assert "2 GCs of NGC 1" in captured.err and "(lines 7, 35); not used" in captured.err
    assert read_catalog(tsv).for_galaxy("NGC1").no_velocity == ((7, "NGC1"), (35, "NGC1"))


def test_identical_positions_give_a_clear_error(tmp_path, capsys):
    code, out = _run(tmp_path, _rows(same_position=True))
    text = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "all 60 tracers share one position" in text and "domain" not in text
    for estimator in default_estimators().values():
        with pytest.raises(CatalogError, match="lie at one projected radius"):   # a ring: no slope
            phi = np.linspace(0.0, 2 * np.pi, 20, endpoint=False)
            estimator.mass(np.cos(phi), np.sin(phi), np.linspace(-100, 100, 20))


def test_empty_galaxy_table_is_a_catalog_error(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CatalogError, match="galaxy table .*empty.csv' is empty: expected a header line"):
        read_galaxy_table(empty)
    code, out = _run(tmp_path, _rows(), galaxy_text="")
    assert code == 2 and not out.exists() and "is empty" in capsys.readouterr().err


def test_bootstrap_count_below_two_is_refused_and_json_is_strict(tmp_path, capsys):
    for n in ("0", "1"):
        code, out = _run(tmp_path, _rows(), "--n-bootstrap", n)
        assert code == 2 and not out.exists()
        assert f"n_bootstrap = {n} is out of range; allowed range [2, 100000]" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="n_bootstrap = 1 gives no spread"):
        default_estimators()["virial"].estimate(*np.random.default_rng(0).normal(size=(3, 20)), n_bootstrap=1)
    code, out = _run(tmp_path, _rows(), "--json")
    text = capsys.readouterr().out
    assert code == 0 and "NaN" not in text and "Infinity" not in text
    for est in json.loads(text)["estimators"].values():
        assert np.isfinite([est["mass_msun"], est["mass_err_msun"]]).all() and est["mass_err_msun"] > 0


def test_observe_outputs_are_owner_only_by_default(tmp_path, capsys):
    """Issue 12, probe 10: the PNGs and their folder follow the campaign's owner-only umask."""
    import os

    caller = os.umask(0o022)
    try:
        code, out = _run(tmp_path, _rows())
        assert os.umask(0o022) == 0o022    # the CLI restores the caller's umask
    finally:
        os.umask(caller)
    assert code == 0
    made = [out, *out.iterdir()]
    assert len(made) == 6 and [str(p) for p in made if p.stat().st_mode & 0o077] == []
    code, _ = _run(tmp_path, _rows(), "--umask", "020")
    err = capsys.readouterr().err
    assert code == 2 and "--umask = '020' leaves files observe creates world-writable" in err
