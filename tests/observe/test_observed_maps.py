"""Observed maps on the training grid, empty-pixel policies, and the CLI end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gcs_hpc.errors import CatalogError, ConfigError
from gcs_hpc.figure import saved_title
from gcs_hpc.maps import bin_projected
from gcs_hpc.observe.__main__ import main
from gcs_hpc.observe.galaxies import Galaxy
from gcs_hpc.observe.observed_maps import FILL_POLICIES, make_observed_maps
from gcs_hpc.observe.project import ProjectedGCs
from gcs_hpc.specs import MapSpec
from gcs_hpc.units import RAD_PER_ARCSEC

GAL = Galaxy("NGC 1", distance_mpc=10.0, v_sys_kms=1000.0, ra_deg=150.0, dec_deg=10.0, r_eff_arcsec=41.25)
R_EFF_KPC = 10.0e3 * 41.25 * RAD_PER_ARCSEC   # ~2 kpc


def _gcs(n=300, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0.0, spread * R_EFF_KPC, (2, n))
    v = 100.0 * np.tanh(-x / R_EFF_KPC) + rng.normal(0.0, 80.0, n)   # rotation about the y axis
    return ProjectedGCs(x, y, v, np.full(n, 10.0))


def test_maps_match_bin_projected_with_west_north_axes():
    spec = MapSpec(n_angles=1, npix=10, fov=6.0, fov_unit="R_half", smoothing=0.0)
    gcs = _gcs()
    obs = make_observed_maps(gcs, GAL, spec)
    assert obs.scale_kpc == pytest.approx(R_EFF_KPC)
    ref, counts = bin_projected(-gcs.x_kpc, gcs.y_kpc, gcs.v_los_kms, spec, R_EFF_KPC, v_err_kms=gcs.v_err_kms)
    np.testing.assert_array_equal(obs.maps, ref)
    np.testing.assert_array_equal(obs.counts, counts)
    assert obs.n_in_field == counts.sum()
    # x = west: the GCs east of the centre (x_east > 0, receding less) land on the map's left half
    V = obs.filled("T4")[1]
    assert V[:, :5].mean() < V[:, 5:].mean()


def test_fill_policies():
    spec = MapSpec(n_angles=1, npix=10, fov=8.0, fov_unit="R_half", smoothing=0.0)
    obs = make_observed_maps(_gcs(150, seed=1), GAL, spec)
    empty = obs.empty
    np.testing.assert_array_equal(empty, obs.counts == 0)   # no smoothing: empty = no GC in the pixel
    assert 0 < empty.sum() < 100
    for policy, value in (("T1", 0.0), ("T2", 50.0), ("T3", 100.0)):
        filled = obs.filled(policy)
        assert np.all(filled[:, empty] == value)
        np.testing.assert_array_equal(filled[:, ~empty], obs.maps[:, ~empty])
    masked = obs.filled("masked")
    assert np.all(np.isnan(masked[:, empty])) and np.all(np.isfinite(masked[:, ~empty]))
    t4 = obs.filled("T4")
    assert np.all(np.isfinite(t4))
    np.testing.assert_array_equal(t4[:, ~empty], obs.maps[:, ~empty])
    for ch in range(2):   # interpolated values stay within the populated range
        assert obs.maps[ch, ~empty].min() - 1e-3 <= t4[ch, empty].min()
        assert t4[ch, empty].max() <= obs.maps[ch, ~empty].max() + 1e-3
    with pytest.raises(ConfigError, match="fill policy"):
        obs.filled("T5")


def test_t4_interpolation_is_linear_on_a_linear_field():
    spec = MapSpec(n_angles=1, npix=10, fov=10.0, fov_unit="kpc", smoothing=0.0)
    # one GC at each pixel centre except a hole in the middle; V = 10 x_map
    c = -4.5 + np.arange(10.0)
    yy, xx = np.meshgrid(c, c, indexing="ij")
    keep = ~((np.abs(xx) < 2) & (np.abs(yy) < 2))
    gcs = ProjectedGCs(-xx[keep], yy[keep], 10.0 * xx[keep], np.zeros(keep.sum()))
    obs = make_observed_maps(gcs, GAL, spec)
    t4 = obs.filled("T4")
    np.testing.assert_allclose(t4[1], 10.0 * xx, atol=1e-3)


def test_field_of_view_units_and_errors():
    gcs = _gcs()
    with pytest.raises(ConfigError, match="fov_unit = 'R_d'.*--disk-size-kpc"):
        make_observed_maps(gcs, GAL, MapSpec(fov_unit="R_d"))
    rd = make_observed_maps(gcs, GAL, MapSpec(fov=1.2, fov_unit="R_d", smoothing=0.0), disk_size_kpc=10.0)
    assert rd.scale_kpc == 10.0
    assert make_observed_maps(gcs, GAL, MapSpec(fov=12.0, fov_unit="kpc")).scale_kpc == 1.0
    no_reff = Galaxy("NGC 2", 10.0, 1000.0, 150.0, 10.0)
    with pytest.raises(ConfigError, match="effective radius"):
        make_observed_maps(gcs, no_reff, MapSpec(fov=5.0, fov_unit="R_half"))
    with pytest.raises(CatalogError, match="GCs lie inside the field of view"):
        make_observed_maps(_gcs(25), GAL, MapSpec(fov=5.0, fov_unit="R_half"))


# ---------------------------------------------------------------- CLI

CATALOG_HEADER = "id,RA,Dec,velocity,v_err,galaxy\n"


def _write_inputs(tmp_path, n=120):
    rng = np.random.default_rng(3)
    r = rng.uniform(0.0, 2.0 / 60.0, n)       # degrees, within 2 arcmin
    t = rng.uniform(0.0, 2 * np.pi, n)
    ra = GAL.ra_deg + r * np.cos(t) / np.cos(np.radians(GAL.dec_deg))
    dec = GAL.dec_deg + r * np.sin(t)
    v = GAL.v_sys_kms + rng.normal(0.0, 150.0, n)
    rows = "".join(f"gc{i},{a:.6f},{d:.6f},{vv:.1f},12,NGC 1\n" for i, (a, d, vv) in enumerate(zip(ra, dec, v)))
    cat = tmp_path / "gcs.csv"
    cat.write_text(CATALOG_HEADER + rows)
    gal = tmp_path / "galaxies.csv"
    gal.write_text("name,distance_mpc,v_sys_kms,ra_deg,dec_deg,r_eff_arcsec\n"
                   f"NGC 1,{GAL.distance_mpc},{GAL.v_sys_kms},{GAL.ra_deg},{GAL.dec_deg},{GAL.r_eff_arcsec}\n")
    return cat, gal


def test_cli_classic_estimators_and_pngs(tmp_path, capsys):
    cat, gal = _write_inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["--catalog", str(cat), "--galaxies", str(gal), "--galaxy", "ngc1", "--json",
                 "--n-bootstrap", "50", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_gc"] == 120 and result["cnn"] == []
    assert set(result["estimators"]) == {"tme_alpha0", "tme_alpha0_rot", "pme_isotropic", "pme_radial", "virial"}
    for est in result["estimators"].values():
        assert est["mass_msun"] > 0 and 0 < est["mass_err_msun"] < est["mass_msun"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"NGC1_maps_{p}.png" for p in FILL_POLICIES)
    n_filled = 100 - result["maps"]["n_empty_pixels"]        # 10x10 maps
    for policy in FILL_POLICIES:                              # the titles count what the maps hold
        assert saved_title(out / f"NGC1_maps_{policy}.png") == (
            f"NGC1: kinematics of {result['maps']['n_in_field']} GCs in the field, {n_filled} of 100 pixels "
            f"with data, empty pixels {policy}")


@pytest.mark.parametrize("change,message", [
    (["--galaxy", "NGC 2"], "is not in catalogue"),
    (["--min-gcs", "500"], "allowed: >= 500"),
    (["--store", "/nonexistent/store.zarr"], "store"),
])
def test_cli_bad_input_writes_nothing(tmp_path, capsys, change, message):
    cat, gal = _write_inputs(tmp_path)
    out = tmp_path / "out"
    args = ["--catalog", str(cat), "--galaxies", str(gal), "--galaxy", "NGC 1", "--out", str(out)] + change
    assert main(args) == 2     # argparse keeps the last --galaxy
    assert message in capsys.readouterr().err
    assert not out.exists()


def _fake_trained_folder(path, channels, map_spec, seed):
    """A real (untrained, seeded) paper net saved the way gcs_hpc.learn.train saves one."""
    from gcs_hpc.config import spec_to_dict
    from gcs_hpc.learn.data import INPUT_SCALE_KMS
    from gcs_hpc.learn.nets import build_net
    from gcs_hpc.learn.train import weights_digest
    from gcs_hpc.store.labels import label_attrs

    path.mkdir()
    net = build_net("conv2", channels, map_spec.npix, seed=seed)
    weights = net.layers[-1].get_weights()
    net.layers[-1].set_weights([weights[0], weights[1] + 5.0])  # mid label range: outputs are not clipped
    net.save(path / "model.keras")
    meta = {"arch": "conv2", "channels": channels, "npix": map_spec.npix, "map_spec": spec_to_dict(map_spec),
            "label_attrs": label_attrs([1e11, 1e13]), "input_scale_kms": INPUT_SCALE_KMS,
            "weights_sha256": weights_digest(net.get_weights())}
    (path / "metadata.json").write_text(json.dumps(meta))
    return path


def test_cli_cnn_masses_for_each_fill_and_channel_count(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from gcs_hpc.learn.predict import load_trained

    cat, gal = _write_inputs(tmp_path)
    spec = MapSpec(n_angles=4, npix=10, fov=4.0, fov_unit="R_half", smoothing=0.0)
    one = _fake_trained_folder(tmp_path / "net1", 1, spec, 1)
    two = _fake_trained_folder(tmp_path / "net2", 2, spec, 2)
    assert main(["--catalog", str(cat), "--galaxies", str(gal), "--galaxy", "NGC 1", "--json",
                 "--n-bootstrap", "5", "--model", str(one), "--model", str(two)]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = result["cnn"]
    assert [(r["channels"], r["fill"]) for r in rows] == [(c, f) for c in (1, 2) for f in ("T1", "T2", "T3", "T4")]
    assert result["maps"]["n_empty_pixels"] > 0
    masses = np.array([r["mass_msun"] for r in rows])
    assert np.all(np.isfinite(masses) & (masses > 0))
    # each row is the net's prediction for that fill of this galaxy's maps
    from gcs_hpc.observe.__main__ import build_parser, resolve_galaxy
    from gcs_hpc.observe.catalog import read_catalog
    from gcs_hpc.observe.project import project_catalog

    args = build_parser().parse_args(["--catalog", str(cat), "--galaxies", str(gal), "--galaxy", "NGC 1"])
    gcs = project_catalog(read_catalog(cat).for_galaxy("NGC 1"), resolve_galaxy(args))
    obs = make_observed_maps(gcs, resolve_galaxy(args), spec)
    net2 = load_trained(two)
    unclipped = float(net2.predict_mass(obs.filled("T4")[None])[0])
    assert 1e11 < unclipped < 1e13    # inside the label range, so the posterior median is the prediction
    assert rows[7]["mass_msun"] == pytest.approx(unclipped, rel=1e-5)
    assert len({round(m, 3) for m in masses[4:]}) > 1    # the fills change the 2-channel prediction

    # a model made on another grid is refused, nothing written
    other = _fake_trained_folder(tmp_path / "net3", 1, MapSpec(fov=5.0, fov_unit="R_half", smoothing=0.0), 3)
    out = tmp_path / "out"
    assert main(["--catalog", str(cat), "--galaxies", str(gal), "--galaxy", "NGC 1", "--model", str(one),
                 "--model", str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "makes maps differently" in err and "fov 5.0 != 4.0" in err
    assert not out.exists()
