"""Evaluation: a net trained on a small store beats the mean on galaxies it never saw; metrics and plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gcs_hpc import store
from gcs_hpc.errors import ConfigError, StoreError
from gcs_hpc.learn import data, evaluate, predict, train

METRIC_KEYS = {"accuracy", "mae", "rmse", "bias_dex", "scatter_dex", "n_models", "n_images", "split"}


@pytest.fixture(scope="module")
def trained(learn_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """conv2 nets with 2 and 1 channels trained in this process on the by-model split."""
    out = {}
    for channels, epochs in ((2, 12), (1, 6)):
        folder = tmp_path_factory.mktemp(f"conv2_{channels}ch")
        cfg = train.TrainConfig(store=str(learn_store), arch="conv2", channels=channels, epochs=epochs,
                                out=str(folder), batch_size=16, seed=2)
        train.train(cfg, log=lambda _m: None)
        out[channels] = folder
    return out


def test_trained_net_beats_the_mean_on_unseen_galaxies(learn_store: Path, trained: dict,
                                                       tmp_path: Path) -> None:
    m = evaluate.evaluate(learn_store, trained[2], tmp_path / "eval", compare=trained[1])
    assert m["split"]["kind"] == "model"
    test_models = data.make_split(data.open_store(learn_store), "model", seed=2).models("test")
    assert m["n_models"] == len(test_models) and m["n_images"] == len(test_models) * 16
    base = m["baseline_mean"]
    assert m["rmse"] < 0.7 * base["rmse"] and m["mae"] < 0.7 * base["mae"]
    assert m["accuracy"] > base["accuracy"] and m["scatter_dex"] < base["scatter_dex"]
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert METRIC_KEYS <= set(written) and METRIC_KEYS - {"split"} <= set(written["compare"])
    for name in evaluate.PLOT_FILES.values():
        png = tmp_path / "eval" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_metrics_follow_the_paper_definitions() -> None:
    true = np.array([1e11, 1e12, 1e12, 2e12])
    pred = np.array([1.1e11, 0.9e12, 1e12, 3e12])
    m = evaluate.error_metrics(pred, true, label_pred=np.array([1.0, 2.0, 3.0, 4.0]),
                               label_true=np.array([1.5, 2.0, 3.0, 2.0]))
    assert m["accuracy"] == pytest.approx(1 - (0.1 + 0.1 + 0 + 0.5) / 4)
    assert m["mae"] == pytest.approx(2.5 / 4) and m["rmse"] == pytest.approx(np.sqrt(4.25 / 4))
    assert m["bias_dex"] == pytest.approx(np.mean(np.log10(pred / true)))


def test_predict_mass_matches_the_evaluation_and_checks_its_input(learn_store: Path, trained: dict) -> None:
    model = predict.load_trained(trained[1])
    assert model.channels == 1 and model.map_spec == store.read_map_spec(learn_store)
    ds = data.open_store(learn_store)
    maps = np.asarray(ds["maps"].isel(model=0).values)  # (angle, 2, y, x): sigma first
    mass = model.predict_mass(maps)
    assert mass.shape == (16,) and np.all(mass > 0)
    np.testing.assert_allclose(model.predict_mass(maps[:, :1]), mass, rtol=1e-6)  # V is ignored
    labels = model.predict_label(maps)
    np.testing.assert_allclose(store.mass_to_label(mass, dict(ds.attrs)), labels, rtol=1e-4, atol=1e-4)
    with pytest.raises(ConfigError, match="shape"):
        model.predict_mass(maps[:, :, :5])
    with pytest.raises(ConfigError, match="2-channel"):
        predict.load_trained(trained[2]).predict_mass(maps[:, :1])
    with pytest.raises(StoreError, match="metadata.json"):
        predict.load_trained(learn_store)


def test_evaluate_cli(learn_store: Path, trained: dict, tmp_path: Path, capsys) -> None:
    assert evaluate.main(["--store", str(learn_store), "--model", str(trained[1]),
                          "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "metrics.json" in printed
    # a single point net has no intervals: no coverage is printed as if it were one
    assert "calibration: none (a single point net gives no intervals" in printed and "covers" not in printed
    assert METRIC_KEYS <= set(json.loads((tmp_path / "metrics.json").read_text()))
    assert evaluate.main(["--store", str(tmp_path / "nope.zarr"), "--model", str(trained[1]),
                          "--out", str(tmp_path)]) == 2


def test_suite_filter_is_recorded_and_honoured_by_evaluate_and_predict(learn_store: Path, tmp_path: Path,
                                                                      capsys) -> None:
    """A net trained with --suites disk,merger never sees an unknown model, in training or test."""
    out = tmp_path / "net"
    assert train.main(["--store", str(learn_store), "--arch", "conv2", "--channels", "1", "--epochs", "1",
                       "--out", str(out), "--batch-size", "32", "--suites", "disk,merger",
                       "--threads", "1"]) == 0
    capsys.readouterr()
    ds = data.open_store(learn_store)
    suite = data.string_coord(ds, "suite")
    meta = json.loads((out / train.METADATA_FILE).read_text())
    assert meta["suites"] == ["disk", "merger"] and meta["split"]["suites"] == ["disk", "merger"]
    assert meta["train_config"]["suites"] == ["disk", "merger"]
    read = json.loads((out / "logs" / "worker-0.json").read_text())["models_read"]
    assert read and set(suite[read]) <= {"disk", "merger"}
    model = predict.load_trained(out)
    assert model.suites == ("disk", "merger")
    source = data.StoreMaps(learn_store, 1)
    images, split = evaluate.test_images(model, source)
    assert split["suites"] == ["disk", "merger"] and len(images) == split["n_test_images"] > 0
    assert set(suite[images[:, 0]]) <= {"disk", "merger"}
    expected = data.make_split(ds, "model", seed=0, suites=("disk", "merger")).test
    np.testing.assert_array_equal(images, expected)
    assert evaluate.evaluate_model(model, learn_store)["metrics"]["n_images"] == len(expected)
    # another store (other config hash): every done image of the net's suites, none of the others
    other = predict.TrainedModel(model.net, {**model.metadata, "store_config_hash": "another"},
                                 model.map_spec, model.channels, model.path)
    images, split = evaluate.test_images(other, source)
    assert split["kind"] == "whole-store" and set(suite[images[:, 0]]) == {"disk", "merger"}
    assert len(images) == np.isin(suite[data.done_models(ds)], ["disk", "merger"]).sum() * 16
    # the 'suite' split keeps its meaning and takes no filter; resuming with another filter is refused
    assert train.main(["--store", str(learn_store), "--arch", "conv2", "--channels", "1", "--epochs", "1",
                       "--out", str(tmp_path / "x"), "--split", "suite", "--suites", "disk"]) == 2
    assert train.main(["--store", str(learn_store), "--arch", "conv2", "--channels", "1", "--epochs", "2",
                       "--out", str(out), "--batch-size", "32", "--suites", "disk"]) == 2
    assert "suites" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_store_with_another_map_definition_is_refused(trained: dict, tmp_path: Path, capsys) -> None:
    """Issue 12, probe 1: fov 2.0 kpc, smoothing 0.5 -- the net's maps are 1.2 R_d, smoothing 0.12."""
    from gcs_hpc.specs import MapSpec

    from .conftest import build_store

    other = build_store(tmp_path / "other.zarr", n_disk=3, n_merger=2, n_unknown=0,
                        map_spec=MapSpec(n_angles=4, fov=2.0, fov_unit="kpc", smoothing=0.5))
    out = tmp_path / "eval"
    assert evaluate.main(["--store", str(other), "--model", str(trained[1]), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "other.zarr' makes maps differently from the net" in err and "(store != net)" in err
    for field in ("fov 2.0 != 1.2", "fov_unit 'kpc' != 'R_d'", "smoothing 0.5 != 0.12"):
        assert field in err
    assert not out.exists()
    with pytest.raises(ConfigError, match="makes maps differently"):
        evaluate.evaluate_model(predict.load_trained(trained[1]), other)
    # a second store for the out-of-distribution check is held to the same definition
    same = build_store(tmp_path / "same.zarr", n_disk=3, n_merger=2, n_unknown=0, n_angles=4)
    assert evaluate.main(["--store", str(same), "--model", str(trained[1]), "--out", str(out),
                          "--ood-store", str(other)]) == 2
    assert "makes maps differently" in capsys.readouterr().err and not out.exists()
    # the number of viewing angles is not part of the map definition: accepted
    m = evaluate.evaluate(same, trained[1], out)
    assert m["split"]["kind"] == "whole-store" and m["n_images"] == 5 * 4


def test_model_folders_are_checked_and_train_out_is_never_a_store_or_a_file(learn_store: Path, trained: dict,
                                                                           tmp_path: Path, capsys) -> None:
    """Issue 12, probe 8: weights_sha256 against model.keras, truncated files, --out checks."""
    import shutil

    from gcs_hpc.learn.nets import build_net

    def copy(name: str) -> Path:
        return Path(shutil.copytree(trained[1], tmp_path / name))

    swapped = copy("swapped")   # model.keras of another run beside this run's metadata
    build_net("conv2", 1, 10, seed=99).save(swapped / "model.keras")
    with pytest.raises(StoreError, match=r"model.keras' holds other weights than .*metadata.json' records"):
        predict.load_trained(swapped)
    truncated = copy("truncated")
    data_bytes = (truncated / "model.keras").read_bytes()
    (truncated / "model.keras").write_bytes(data_bytes[:len(data_bytes) // 2])
    with pytest.raises(StoreError, match=r"truncated/model.keras' cannot be loaded .* truncated"):
        predict.load_trained(truncated)
    out = tmp_path / "eval"
    assert evaluate.main(["--store", str(learn_store), "--model", str(truncated), "--out", str(out)]) == 2
    assert "model.keras' cannot be loaded" in capsys.readouterr().err and not out.exists()
    bad_json = copy("bad_json")
    text = (bad_json / "metadata.json").read_text()
    (bad_json / "metadata.json").write_text(text[:len(text) // 2])
    with pytest.raises(StoreError, match=r"bad_json/metadata.json' is not valid JSON"):
        predict.load_trained(bad_json)
    no_digest = copy("no_digest")
    meta = json.loads(text)
    del meta["weights_sha256"]
    (no_digest / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="metadata.json' lacks weights_sha256"):
        predict.load_trained(no_digest)
    assert predict.load_trained(copy("intact")).channels == 1   # the copies themselves are fine
    # train --out: inside the store, the store itself, an existing file -- refused before anything is written
    before = sorted(p.name for p in learn_store.rglob("*"))
    args = ["--store", str(learn_store), "--arch", "conv2", "--channels", "1", "--epochs", "1"]
    assert train.main(args + ["--out", str(learn_store / "net")]) == 2
    assert f"is inside the zarr store {str(learn_store)!r}" in capsys.readouterr().err
    assert train.main(args + ["--out", str(learn_store)]) == 2
    assert "is the zarr store" in capsys.readouterr().err
    assert sorted(p.name for p in learn_store.rglob("*")) == before
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    assert train.main(args + ["--out", str(a_file)]) == 2
    assert "is an existing file; allowed: a folder" in capsys.readouterr().err
    assert a_file.read_text() == "keep me"


def test_train_and_evaluate_outputs_are_owner_only_by_default(learn_store: Path, trained: dict,
                                                              tmp_path: Path, capsys) -> None:
    """Issue 12, probe 10: the campaign's umask policy (gcs_hpc.fileperm), whatever the caller's umask."""
    import os

    net, ev, grouped = tmp_path / "net", tmp_path / "eval", tmp_path / "eval027"
    caller = os.umask(0o022)   # a typical login umask: group and world could read
    try:
        assert train.main(["--store", str(learn_store), "--arch", "conv2", "--channels", "1", "--epochs", "1",
                           "--out", str(net), "--batch-size", "32", "--threads", "1"]) == 0
        assert evaluate.main(["--store", str(learn_store), "--model", str(trained[1]), "--out", str(ev)]) == 0
        assert evaluate.main(["--store", str(learn_store), "--model", str(trained[1]), "--out", str(grouped),
                              "--umask", "027"]) == 0
        assert evaluate.main(["--store", str(learn_store), "--model", str(trained[1]),
                              "--out", str(tmp_path / "x"), "--umask", "000"]) == 2
        assert os.umask(0o022) == 0o022    # the CLIs restore the caller's umask
    finally:
        os.umask(caller)
    assert "--umask = '000' leaves files evaluate creates world-writable" in capsys.readouterr().err
    made = [net, ev, *net.rglob("*"), *ev.rglob("*")]
    assert {p.name for p in made} >= {"model.keras", "metadata.json", "checkpoint", "metrics.json"}
    assert [str(p) for p in made if p.stat().st_mode & 0o077] == []
    assert all(p.stat().st_mode & 0o027 == 0 for p in [grouped, *grouped.rglob("*")])
    assert (grouped / "metrics.json").stat().st_mode & 0o040     # 027 lets the group read
