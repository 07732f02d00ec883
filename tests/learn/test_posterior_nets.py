"""Posteriors from real TensorFlow nets: a gaussian head calibrated on a problem with a known posterior,
reproducible ensembles, out-of-distribution flags, the enclosed-mass target and the scale input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gcs_hpc import store
from gcs_hpc.errors import ConfigError, StoreError
from gcs_hpc.learn import calibration, data, ensemble, evaluate, nets, predict, targets, train
from gcs_hpc.learn.posterior import MassPosterior
from gcs_hpc.specs import MapSpec
from tests.learn.conftest import synthetic_maps, synthetic_specs

#: Linear-Gaussian toy: label ~ N(5, 1.5^2); the map shows label + e, e ~ N(0, 0.7^2), on a fixed profile.
PRIOR_MEAN, PRIOR_SD, NOISE_SD = 5.0, 1.5, 0.7
EXACT_SD = (1 / PRIOR_SD ** 2 + 1 / NOISE_SD ** 2) ** -0.5


def toy_maps(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (n, 10, 10, 1), labels (n,)); the exact posterior of the label is N(m, EXACT_SD^2)."""
    rng = np.random.default_rng(seed)
    label = PRIOR_MEAN + PRIOR_SD * rng.normal(size=n)
    seen = label + NOISE_SD * rng.normal(size=n)
    c = (np.arange(10) - 4.5) / 5
    x, y = np.meshgrid(c, c)
    profile = 1.0 - 0.3 * np.hypot(x, y)
    return (0.2 * seen[:, None, None] * profile).astype(np.float32)[..., None], label.astype(np.float32)


def test_gaussian_head_net_is_calibrated_on_the_linear_gaussian_toy() -> None:
    import keras
    import tensorflow as tf

    x, y = toy_maps(3000, seed=0)
    x_test, y_test = toy_maps(2000, seed=1)
    keras.utils.set_random_seed(0)  # fit's shuffling
    net = nets.build_net("conv2", 1, seed=0, head="gaussian")
    # trained to convergence (a constant 1e-3 step left the width 5-9 points off on some machines)
    epochs, steps = 20, -(-len(x) // 64)
    net.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, epochs * steps)),
                loss=lambda t, p: nets.per_image_loss(tf, "gaussian", p, t))
    net.fit(x, y[:, None], batch_size=64, epochs=epochs, verbose=0)
    mean, sd = nets.split_outputs("gaussian", net.predict(x_test, verbose=0))
    m = calibration.calibration_metrics(MassPosterior(mean[:, None], sd[:, None]), y_test)
    # measured (3 seeds): coverage errors -0.003 / -0.006, median sd 0.632-0.635 against the exact 0.634
    assert abs(m["coverage_68_error"]) <= calibration.COVERAGE_TOLERANCE
    assert abs(m["coverage_95_error"]) <= 0.03
    assert np.median(sd) == pytest.approx(EXACT_SD, rel=0.15)


@pytest.mark.parametrize(("head", "scale"), [("gaussian", False), ("point", True), ("gaussian", True)])
def test_heads_and_scale_input_have_the_counted_parameters(head: str, scale: bool) -> None:
    net = nets.build_net("conv2", 2, seed=0, head=head, scale_input=scale)
    assert net.count_params() == nets.expected_parameter_count("conv2", 2, head=head, scale_input=scale)
    assert net.count_params() - 224_161 == (129 if head == "gaussian" else 0) + (128 if scale else 0)
    x = np.zeros((3, 10, 10, 2), np.float32)
    out = net([x, np.zeros((3, 1), np.float32)] if scale else x, training=False)
    assert tuple(out.shape) == (3, nets.HEADS[head])


def test_member_seeds_are_distinct_and_reproducible() -> None:
    seeds = ensemble.member_seeds(7, 5)
    assert seeds == ensemble.member_seeds(7, 5) and len(set(seeds)) == 5
    assert seeds[:3] == ensemble.member_seeds(7, 3) and seeds != ensemble.member_seeds(8, 5)


@pytest.fixture(scope="module")
def two_ensembles(learn_store: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two 2-member gaussian ensembles trained with the same seed (4 epochs each member)."""
    folders = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(f"ensemble_{name}")
        cfg = train.TrainConfig(store=str(learn_store), arch="conv2", channels=2, epochs=4, out=str(out),
                                batch_size=16, seed=3, head="gaussian", threads=1)
        ensemble.train_ensemble(cfg, members=2, log=lambda _m: None)
        folders.append(out)
    return folders


def test_ensembles_are_reproducible_by_seed(two_ensembles: list[Path]) -> None:
    a, b = (json.loads((f / ensemble.ENSEMBLE_FILE).read_text()) for f in two_ensembles)
    assert a["member_seeds"] == b["member_seeds"] == ensemble.member_seeds(3, 2)
    assert a["weights_sha256"] == b["weights_sha256"]            # bit-identical members
    assert a["weights_sha256"][0] != a["weights_sha256"][1]       # different members
    metas = [json.loads((f / "metadata.json").read_text()) for f in sorted(two_ensembles[0].glob("member-*"))]
    assert metas[0]["split"] == metas[1]["split"]                 # the same held-out galaxies


def test_ood_flags_shifted_maps_but_not_held_out_ones(learn_store: Path, two_ensembles: list[Path],
                                                     tmp_path: Path) -> None:
    ens = predict.load_predictor(two_ensembles[0])
    assert isinstance(ens, ensemble.Ensemble) and ens.metadata["ood"]["thresholds"]["disagreement_dex"] > 0
    source = data.StoreMaps(learn_store, 2)
    targets.attach(source, "M_total", "5_r_half", False)
    images, _ = evaluate.test_images(ens, source)
    held_out = evaluate.posterior_metrics(ens, source, images)
    assert held_out["ood"]["fraction_flagged"] <= 0.05
    shifted = evaluate.ood.flag_reasons(3.0 * source.read_models([0])[0], ens.predict_posterior(
        3.0 * source.read_models([0])[0]), ens.metadata["ood"])
    assert all(any(r.startswith("amplitude") for r in rs) for rs in shifted)
    # evaluate writes calibration and OOD numbers, and the calibration figure
    m = evaluate.evaluate(learn_store, two_ensembles[0], tmp_path / "eval")
    cal = m["calibration"]
    assert cal["n_members"] == 2 and 0 <= cal["coverage_68"] <= cal["coverage_95"] <= 1
    assert sum(cal["pit_histogram"]) == m["n_images"] and m["ood"]["fraction_flagged"] <= 0.05
    assert (tmp_path / "eval" / evaluate.PLOT_FILES["calibration"]).stat().st_size > 5000
    written = json.loads((tmp_path / "eval" / evaluate.METRICS_FILE).read_text())
    assert written["calibration"]["coverage_95"] == cal["coverage_95"]


def build_v2_store(path: Path, n_angles: int = 8, seed: int = 0) -> Path:
    """A schema-2 store with fov_unit R_half: r_half ~ M^(1/3) per angle, M(<r) a fraction of M_total."""
    specs = synthetic_specs(14, 10, 0, seed)
    map_spec = MapSpec(n_angles=n_angles, fov=5.0, fov_unit="R_half", smoothing=0.5)
    store.create_store(path, specs, map_spec, f"# synthetic v2 store, seed {seed}\n")
    rng = np.random.default_rng(seed)
    n_radius = len(store.ENCLOSED_RADII)
    for i, spec in enumerate(specs):
        maps, counts = synthetic_maps(spec, map_spec, seed * 1000 + i)
        r_half = 4.0 * (spec.M_total / 1e12) ** (1 / 3) * (1 + 0.05 * rng.normal(size=n_angles))
        radii = np.linspace(1.0, 50.0, n_radius)
        summary = {"gc_phase_space": rng.normal(size=(10, 6)), "r_half": r_half,
                   "enclosed_mass": spec.M_total * 0.2 * (radii / 50.0) ** 0.8, "enclosed_radius": radii}
        store.write_model(path, i, maps, counts, summary=summary)
    return path


def test_enclosed_mass_target_and_scale_input(learn_store: Path, tmp_path: Path) -> None:
    v2 = build_v2_store(tmp_path / "v2.zarr")
    cfg = train.TrainConfig(store=str(v2), arch="conv2", channels=2, epochs=2, out=str(tmp_path / "net"),
                            batch_size=16, head="gaussian", target="M_enclosed", threads=1)
    train.train(cfg, log=lambda _m: None)
    net = predict.load_trained(tmp_path / "net")
    assert net.scale_input and net.target == "M(<5_r_half)"          # auto: R_half store with r_half
    m5 = store.read_enclosed_mass(data.open_store(v2), "5_r_half")
    assert net.metadata["label_attrs"]["label_log10_mass_min"] <= np.log10(m5.min())
    assert net.metadata["label_attrs"]["label_log10_mass_max"] >= np.log10(m5.max())
    assert "log10_scale_kpc" in net.metadata["ood"]["ranges"]
    maps = np.asarray(data.open_store(v2)["maps"].isel(model=0).values)
    with pytest.raises(ConfigError, match="scale_kpc"):
        net.predict_posterior(maps)
    rows = net.predict_posterior(maps, scale_kpc=4.0).summaries()
    assert len(rows) == 8 and all(r["interval_95_msun"][0] <= r["median_msun"] <= r["interval_95_msun"][1]
                                  for r in rows)
    m = evaluate.evaluate(v2, tmp_path / "net", tmp_path / "eval")
    assert m["target"] == "M(<5_r_half)" and "coverage_68" in m["calibration"]
    # a version-1 store has no enclosed-mass profile: a clear error, nothing written
    with pytest.raises(StoreError, match="enclosed_mass of .* not recorded"):
        train.train(train.TrainConfig(store=str(learn_store), arch="conv2", channels=1, epochs=1,
                                      out=str(tmp_path / "v1"), target="M_enclosed"), log=lambda _m: None)
    assert not (tmp_path / "v1").exists()
    with pytest.raises(ConfigError, match="scale_input"):
        train.train(train.TrainConfig(store=str(learn_store), arch="conv2", channels=1, epochs=1,
                                      out=str(tmp_path / "v1"), scale_input=True), log=lambda _m: None)


def test_ensemble_cli_takes_the_train_options_and_umask(learn_store: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ens"
    argv = ["--store", str(learn_store), "--arch", "conv2", "--channels", "2", "--epochs", "1",
            "--out", str(out), "--batch-size", "32", "--members", "2", "--threads", "1", "--umask", "027"]
    assert ensemble.main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["n_members"] == 2 and printed["member_seeds"] == ensemble.member_seeds(0, 2)
    record = json.loads((out / ensemble.ENSEMBLE_FILE).read_text())
    assert record["head"] == "gaussian"                                    # the ensemble CLI's default head
    assert (out / ensemble.ENSEMBLE_FILE).stat().st_mode & 0o777 == 0o640  # --umask 027
    assert ensemble.main(argv[:-2] + ["--umask", "000"]) == 2              # world-writable refused
