"""Catalogue and galaxy-table readers, projection to kpc, on small files written in the test and on the
real SLUGGS tables (Forbes et al. 2017, AJ 153, 114) where ../shared/data is present."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcs_hpc.errors import CatalogError, ConfigError
from gcs_hpc.observe.catalog import read_catalog, read_csv, read_vizier_tsv, split_vizier_tsv
from gcs_hpc.observe.galaxies import Galaxy, find_galaxy, read_galaxy_table
from gcs_hpc.observe.project import gnomonic, project_catalog
from gcs_hpc.units import KPC_PER_MPC, RAD_PER_ARCSEC

VIZIER = """#
#   VizieR Astronomical Server
#Column\tStar\t(a14)\tObject identifier
recno\tStar\tRAJ2000\tDEJ2000\tHRV\te_HRV\tRgal
 \t \tdeg\tdeg\tkm/s\tkm/s\tarcmin
--------\t--------------\t----------\t----------\t----\t---\t------
       1\tNGC720_S1     \t028.165375\t-13.732361\t1794\t 11\t  5.07
       2\tNGC720_S2     \t028.217625\t-13.731111\t1805\t 10\t  2.06
       3\tNGC1023_S1    \t040.100000\t+39.063000\t 602\t  9\t  0.10
       4\tNGC1023_S2    \t040.110000\t+39.070000\t    \t   \t  0.40
"""


def test_vizier_reader(tmp_path):
    path = tmp_path / "gcs.tsv"
    path.write_text(VIZIER)
    cat = read_vizier_tsv(path)
    assert len(cat) == 3                      # the row with a blank velocity is skipped
    assert cat.galaxies == ["NGC1023", "NGC720"]
    sub = cat.for_galaxy("ngc 720")
    assert len(sub) == 2
    np.testing.assert_allclose(sub.v_kms, [1794.0, 1805.0])
    np.testing.assert_allclose(sub.v_err_kms, [11.0, 10.0])
    assert sub.ids.tolist() == ["NGC720_S1", "NGC720_S2"]
    assert read_catalog(path).galaxies == cat.galaxies


def test_unknown_galaxy_lists_close_matches(tmp_path):
    path = tmp_path / "gcs.tsv"
    path.write_text(VIZIER)
    with pytest.raises(CatalogError, match="close matches: NGC720"):
        read_vizier_tsv(path).for_galaxy("NGC 721")


def test_vizier_non_numeric_and_layout_errors(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text(VIZIER.replace("1805", "18x5"))
    with pytest.raises(CatalogError, match=r"line 8: column HRV = '18x5' is not a number"):
        read_vizier_tsv(bad)
    no_dashes = tmp_path / "nodash.tsv"
    no_dashes.write_text("\n".join(line for line in VIZIER.splitlines() if not line.startswith("---")))
    with pytest.raises(CatalogError, match="not in the VizieR TSV layout"):
        read_vizier_tsv(no_dashes)


def test_csv_reader_and_missing_columns(tmp_path):
    path = tmp_path / "gcs.csv"
    path.write_text("# my GCs\nid,RA,Dec,velocity,v_err\na,10.0,-5.0,700,12\nb,10.01,-5.02,650.5,8\n")
    cat = read_catalog(path)
    assert len(cat) == 2 and cat.galaxies == []
    assert cat.for_galaxy("anything") is cat      # a single-galaxy file
    np.testing.assert_allclose(cat.v_kms, [700.0, 650.5])
    missing = tmp_path / "missing.csv"
    missing.write_text("RA,Dec,velocity\n10,-5,700\n")
    with pytest.raises(CatalogError, match=r"missing column\(s\) v_err \(v_err: one of v_err, e_hrv"):
        read_csv(missing)
    bad = tmp_path / "bad.csv"
    bad.write_text("RA,Dec,velocity,v_err\n10,-5,fast,3\n")
    with pytest.raises(CatalogError, match="line 2: column velocity = 'fast' is not a number"):
        read_csv(bad)
    out = tmp_path / "range.csv"
    out.write_text("RA,Dec,velocity,v_err\n10,-95,700,3\n")
    with pytest.raises(CatalogError, match="Dec out of range"):
        read_csv(out)
    with pytest.raises(CatalogError, match="does not exist"):
        read_catalog(tmp_path / "nope.csv")


def test_galaxy_csv_and_by_hand(tmp_path):
    path = tmp_path / "gal.csv"
    path.write_text("name,distance_mpc,v_sys_kms,ra_deg,dec_deg,r_eff_arcsec,pa\n"
                    "NGC 3115,9.4,663,151.308250,-7.718583,35,43.5\n")
    table = read_galaxy_table(path)
    g = find_galaxy(table, "ngc3115")
    assert g.name == "NGC3115" and g.position_angle_deg == 43.5
    assert g.r_eff_kpc == pytest.approx(35 * 9.4e3 * RAD_PER_ARCSEC)
    with pytest.raises(ConfigError, match=r"galaxy\[NGC1\].distance_mpc = -1.0 is out of range"):
        Galaxy("NGC 1", -1.0, 100.0, 10.0, 10.0)
    with pytest.raises(ConfigError, match="effective radius r_eff_arcsec is unknown"):
        Galaxy("NGC 1", 10.0, 100.0, 10.0, 10.0).r_eff_kpc
    bad = tmp_path / "badgal.csv"
    bad.write_text("name,distance_mpc,ra_deg,dec_deg\nX,1,2,3\n")
    with pytest.raises(CatalogError, match="missing column v_sys_kms"):
        read_galaxy_table(bad)


def test_gnomonic_small_angles_and_axes():
    # 1 arcmin east and north of a centre at Dec = 60 deg
    dec0 = 60.0
    xi, eta = gnomonic(np.array([10.0 + 1 / 60 / math.cos(math.radians(dec0)), 10.0]),
                       np.array([dec0, dec0 + 1 / 60]), 10.0, dec0)
    arcmin = math.radians(1 / 60)
    assert xi[0] == pytest.approx(arcmin, rel=1e-3) and abs(eta[0]) < 1e-3 * arcmin
    assert eta[1] == pytest.approx(arcmin, rel=1e-6) and xi[1] == 0.0
    with pytest.raises(ValueError, match="90 deg"):
        gnomonic(np.array([190.0]), np.array([0.0]), 10.0, 0.0)


def test_projection_kpc_and_velocity(tmp_path):
    path = tmp_path / "gcs.csv"
    path.write_text("RA,Dec,velocity,v_err\n150.0,0.1,1100,10\n150.1,0.0,900,20\n")
    cat = read_csv(path)
    gal = Galaxy("G", distance_mpc=20.0, v_sys_kms=1000.0, ra_deg=150.0, dec_deg=0.0, position_angle_deg=90.0)
    p = project_catalog(cat, gal)
    kpc_per_deg = 20.0 * KPC_PER_MPC * math.radians(1.0)
    np.testing.assert_allclose(p.y_kpc[0], math.tan(math.radians(0.1)) * 20.0 * KPC_PER_MPC, rtol=1e-12)
    assert p.x_kpc[1] == pytest.approx(0.1 * kpc_per_deg, rel=1e-5)
    np.testing.assert_allclose(p.v_los_kms, [100.0, -100.0])
    np.testing.assert_allclose(p.R_kpc, np.hypot(p.x_kpc, p.y_kpc))
    rot = project_catalog(cat, gal, align_major_axis=True)   # PA 90: major axis east -> +x
    np.testing.assert_allclose(rot.x_kpc, p.x_kpc, atol=1e-12)
    np.testing.assert_allclose(rot.R_kpc, p.R_kpc, rtol=1e-12)


def test_real_sluggs_tables(shared_data):
    """Forbes et al. (2017) SLUGGS tables: 26 galaxies, NGC 3115 withheld, M87 with ~650 GCs."""
    cat = read_vizier_tsv(shared_data / "forbes2017_gc_velocities.tsv")
    table = read_galaxy_table(shared_data / "forbes2017_galaxies.tsv")
    assert len(cat.galaxies) == 26 and "NGC3115" not in cat.galaxies
    assert set(cat.galaxies) <= set(table)
    assert 600 <= len(cat.for_galaxy("NGC 4486")) <= 660
    m87 = find_galaxy(table, "NGC4486")
    assert m87.distance_mpc == 16.7 and m87.v_sys_kms == 1284.0 and m87.r_eff_arcsec == 86.6
    p = project_catalog(cat.for_galaxy("NGC4486"), m87)
    # GC velocities scatter about the systemic velocity, and radii agree with the table's Rgal (arcmin)
    assert abs(np.median(p.v_los_kms)) < 100.0
    assert 5.0 < np.median(p.R_kpc) < 100.0
    with pytest.raises(CatalogError, match="'NGC 3115' is not in the galaxy table; close matches: NGC"):
        find_galaxy(table, "NGC 3115")
    # the projected radii reproduce the catalogue's own galactocentric radii Rgal (arcmin)
    header, _, rows = split_vizier_tsv(shared_data / "forbes2017_gc_velocities.tsv")
    star, rgal = header.index("Star"), header.index("Rgal")
    rgal_by_id = {f[star].strip(): float(f[rgal]) for _, f in rows if f[rgal].strip()}
    arcmin = np.array([rgal_by_id[i] for i in cat.for_galaxy("NGC4486").ids])
    ours = p.R_kpc / (m87.kpc_per_arcsec * 60.0)
    assert np.median(np.abs(ours - arcmin)) < 0.02
