"""The experiments' suite filter: DL3 to DL5 train and test on disk + merger only, nets trained before
the filter are recognised (reused or retrained), and the report says which suites were used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gcs_hpc.errors import ConfigError
from gcs_hpc.experiments.report import suite_caveats
from gcs_hpc.experiments.runner import outdated, train_config, trained_already
from gcs_hpc.experiments.spec import experiment_from_mapping, load_experiment, load_experiments


def test_dl3_to_dl5_train_and_test_on_disk_and_merger_only(tmp_path: Path) -> None:
    specs = {s.name: s for s in load_experiments("all")}
    for name in ("DL3", "DL4", "DL5"):
        assert specs[name].train_suites == ("disk", "merger") and "unknown" in specs[name].suites
        for split in specs[name].splits:
            cfg = train_config(specs[name], "laptop", tmp_path / "s.zarr", split, 2, tmp_path / name)
            assert cfg.suites == ("disk", "merger")
    assert specs["unknown"].suites_for("suite") is None   # the suite split keeps its meaning
    assert train_config(specs["unknown"], "laptop", tmp_path / "s.zarr", "suite", 1, tmp_path).suites is None
    assert specs["DL1"].train_suites is None and specs["DL1"].suites_for("model") is None


@pytest.mark.parametrize("change, message", [
    ({"train_suites": ["merger"]}, r"experiment.train_suites\[\] = 'merger' is not allowed; allowed values: "
                                   r"'disk'"),
    ({"train_suites": []}, r"train_suites = \[\] must name one or more distinct suites"),
    ({"train_suites": ["disk", "disk"]}, r"distinct suites"),
])
def test_bad_train_suites(change, message) -> None:
    data = {**_mapping("DL1"), **change}
    with pytest.raises(ConfigError, match=message):
        experiment_from_mapping(data, source="test file")


def test_train_suites_needs_a_model_or_image_split() -> None:
    data = {**_mapping("unknown"), "train_suites": ["disk", "merger"]}
    with pytest.raises(ConfigError, match=r"applies to the 'model' and 'image' splits; splits = \['suite'\]"):
        experiment_from_mapping(data, source="test file")


def _mapping(name: str) -> dict:
    import yaml

    from gcs_hpc.experiments.spec import EXPERIMENT_DIR

    return yaml.safe_load((EXPERIMENT_DIR / f"{name}.yaml").read_text())


def test_nets_from_before_the_filter_are_reused_or_retrained(tmp_path: Path) -> None:
    """A train_config.json without 'suites' (written before the filter) used every suite."""
    from dataclasses import asdict

    for name in ("DL1", "DL4"):
        spec = load_experiment(name)
        cfg = train_config(spec, "laptop", tmp_path / "s.zarr", "model", 1, tmp_path / name)
        (tmp_path / name).mkdir()
        old = {k: v for k, v in asdict(cfg).items() if k != "suites"}
        (tmp_path / name / "train_config.json").write_text(json.dumps(old))
        assert not trained_already(cfg)      # no metadata.json yet: a killed run, resumed if not outdated
        (tmp_path / name / "metadata.json").write_text("{}")
        if name == "DL1":                    # no filter: the old net is this config's net
            assert trained_already(cfg) and not outdated(cfg)
        else:                                # now filtered: the old net saw the unknown mergers
            assert not trained_already(cfg) and outdated(cfg)


def test_report_says_which_suites_were_used() -> None:
    def result(train_suites):
        return {"suites": {"disk": {}, "merger": {}, "unknown": {}}, "train_suites": train_suites,
                "nets": [{"split": "model"}, {"split": "image"}]}

    new = suite_caveats({"DL3": result(["disk", "merger"]), "DL4": result(["disk", "merger"]),
                         "unknown": {**result(None), "nets": [{"split": "suite"}]}})
    assert len(new) == 1 and new[0].startswith("- DL3, DL4 train and test on the disk + merger suites only")
    old = {k: v for k, v in result(None).items() if k != "train_suites"}   # a result.json from before
    lines = suite_caveats({"DL5": old})
    assert len(lines) == 1 and "DL5 uses a store that also holds the 'unknown' mergers" in lines[0]
    assert suite_caveats({"DL1": {**result(None), "suites": {"disk": {}}}}) == []


def test_table_names_the_suites_each_split_used() -> None:
    from gcs_hpc.experiments.report import _data_of

    r = {"train_suites": ["disk", "merger"], "store_summary": {"done_by_suite": {"disk": 1, "merger": 1,
                                                                                 "unknown": 1}}}
    assert _data_of(r, "model") == "disk, merger"
    assert _data_of({**r, "train_suites": None}, "image") == "disk, merger, unknown"
    assert _data_of({**r, "train_suites": None}, "suite") == "disk, merger -> unknown"
