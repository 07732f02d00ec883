"""An experiment of the paper as a frozen, validated spec: which campaign, which nets, which splits.

An experiment file (``configs/experiments/<name>.yaml``) names the campaign suites and map settings that
make its store, the net, the channel counts, the splits, the training noise, the noise levels the test
maps are evaluated at, and the *scales* (``test``, ``laptop``, ``workstation``, ``paper``) it runs at.
The sizes per scale (models, viewing angles, preset with overrides, epochs, ...) are defined once, in
``configs/experiments/scales.yaml`` (:data:`SCALES_FILE`); an experiment lists its scales and changes
only the keys that differ (``paper: {n_models: 2000}``). :meth:`ExperimentSpec.campaign_mapping` turns a
spec and a scale
into the mapping :func:`gcs_hpc.campaign.config.config_from_mapping` takes, so the campaign's own
validation (suite names, ranges, fractions) runs when the experiment is loaded, before anything runs.

Experiments whose campaign mapping is identical at a scale share one store (the ``campaign`` name is its
file name); the store API refuses a store made with another config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from gcs_hpc.backends import BACKEND_CHOICES
from gcs_hpc.config import check_choice, check_range, load_yaml, spec_from_mapping
from gcs_hpc.errors import ConfigError
from gcs_hpc.shipped import shipped_config_dir

#: Scales an experiment file may define; ``laptop`` and ``paper`` are required. ``workstation``: fully
#: relaxed tiny-preset runs (disks to t = 5, mergers to t = 20) at ~2000 models, hours on 2 cores
#: (gcs_hpc.experiments.workstation).
SCALES = ("test", "laptop", "workstation", "paper")
REQUIRED_SCALES = ("laptop", "paper")
NETS = ("conv2", "conv4")  # gcs_hpc.learn.nets.ARCHITECTURES (not imported: it is TensorFlow's room)
CHANNELS = (1, 2)
SPLITS = ("model", "image", "suite")  # gcs_hpc.learn.data.SPLITS
#: Splits that take the train_suites filter (the ``suite`` split fixes its own suites).
FILTERED_SPLITS = ("model", "image")
BACKENDS = BACKEND_CHOICES  # gcs_hpc.backends: the one list of gravity backends
PRESET_NAMES = ("tiny", "quick", "paper")
#: Where the experiment files live.
EXPERIMENT_DIR = shipped_config_dir("experiments")  # configs/experiments, installed as package data
#: Stem of the file beside the experiments that defines the sizes of every scale (not an experiment).
SCALES_FILE = "scales"
#: Campaign seed of every experiment store (one seed: stores of equal configs are equal).
CAMPAIGN_SEED = 2021
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


@dataclass(frozen=True)
class ScaleSpec:
    """The sizes of an experiment at one scale.

    Attributes
    ----------
    preset
        Resolution preset of the campaign (``tiny``, ``quick``, ``paper``).
    n_models
        Models in the campaign (split over its suites by their fractions).
    n_angles
        Viewing angles per model (the paper: 100).
    epochs
        Training epochs of every net (the paper: 1000).
    preset_overrides
        Changes to the preset (e.g. shorter ``t_end_disk``), as the campaign config takes them.
    batch_size
        Images per training batch.
    backend
        N-body backend of the campaign (and of the re-runs the classic estimators need).
    workers
        Campaign worker processes (0: one per core).
    compare_models
        Most held-out galaxies the classic estimators are run on (0: none).
    compare_views
        Viewing angles per held-out galaxy for the classic estimators.
    """

    preset: str
    n_models: int
    n_angles: int
    epochs: int
    preset_overrides: dict[str, Any] = field(default_factory=dict, hash=False)
    batch_size: int = 32
    backend: str = "auto"
    workers: int = 0
    compare_models: int = 20
    compare_views: int = 3

    def __post_init__(self) -> None:
        check_choice("scale", "preset", self.preset, PRESET_NAMES)
        check_range("scale", "n_models", self.n_models, 2, 10_000_000)
        check_range("scale", "n_angles", self.n_angles, 1, 100_000)
        check_range("scale", "epochs", self.epochs, 1, 1_000_000)
        check_range("scale", "batch_size", self.batch_size, 1, 1_000_000)
        check_choice("scale", "backend", self.backend, BACKENDS)
        check_range("scale", "workers", self.workers, 0, 100_000)
        check_range("scale", "compare_models", self.compare_models, 0, 10_000_000)
        check_range("scale", "compare_views", self.compare_views, 1, 100_000)


@dataclass(frozen=True)
class ExperimentSpec:
    """One experiment: a campaign store, nets trained on it and how they are judged.

    Attributes
    ----------
    name
        Experiment name (DL1, ..., the file name without ``.yaml``).
    description
        One line for the report.
    campaign
        Name of the campaign store; experiments with equal campaign settings share it.
    suites
        Campaign suites (``gcs_hpc.campaign.config`` settings per suite, e.g. ``disk: {fraction: 1.0}``).
    maps
        Map settings other than ``n_angles`` (which is per scale), e.g. ``{smoothing: 0.5}``.
    net
        ``conv2`` or ``conv4`` (paper section 2.2).
    channels
        Channel counts trained: 1 (sigma) and/or 2 (sigma, V).
    splits
        ``model`` (no galaxy in both sets), ``image`` (the paper's 80/20 of images) and/or ``suite``
        (train disk+merger, test unknown).
    train_suites
        Campaign suites whose models the ``model`` and ``image`` splits train and test on (None: every
        suite of the store). DL3 to DL5 share their store with ``unknown`` and name ``[disk, merger]``,
        as the paper trains and tests them on disks and mergers; the ``suite`` split ignores it.
    noise_kms
        Gaussian noise per pixel added to the training maps, km/s (DL5: 5, the paper's 0.04 units).
    eval_noise_kms
        Noise levels (km/s) of the test maps the nets are evaluated at (0: the clean maps).
    compare
        Run the classic estimators (TME, PME, virial) on the held-out galaxies of the first of
        ``model``/``suite`` in ``splits``.
    study
        Group shown together in the report: ``paper`` (Tables 2, 3), ``n_gc`` or ``smoothing``.
    scales
        Sizes per scale (``test``, ``laptop``, ``workstation``, ``paper``): the shared sizes of
        ``scales.yaml`` with the experiment's changes (:func:`resolve_scales`).
    """

    name: str
    description: str
    campaign: str
    suites: dict[str, Any] = field(hash=False)
    net: str
    channels: tuple[int, ...]
    splits: tuple[str, ...]
    scales: dict[str, ScaleSpec] = field(hash=False)
    maps: dict[str, Any] = field(default_factory=dict, hash=False)
    noise_kms: float = 0.0
    eval_noise_kms: tuple[float, ...] = (0.0,)
    compare: bool = True
    study: str = "paper"
    train_suites: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for key in ("name", "campaign"):
            value = getattr(self, key)
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise ConfigError(f"experiment.{key} = {value!r} must be a plain name "
                                  "(letters, digits, '_', '.', '+', '-')")
        check_choice("experiment", "net", self.net, NETS)
        if not self.channels:
            raise ConfigError("experiment.channels is empty; allowed: a list of 1 and/or 2")
        for c in self.channels:
            check_choice("experiment", "channels[]", c, CHANNELS)
        if not self.splits:
            raise ConfigError(f"experiment.splits is empty; allowed: a list of {', '.join(SPLITS)}")
        for s in self.splits:
            check_choice("experiment", "splits[]", s, SPLITS)
        if len(set(self.channels)) != len(self.channels) or len(set(self.splits)) != len(self.splits):
            raise ConfigError("experiment.channels and experiment.splits must not repeat a value")
        check_range("experiment", "noise_kms", self.noise_kms, 0.0, 1000.0)
        if not self.eval_noise_kms:
            raise ConfigError("experiment.eval_noise_kms is empty; allowed: a list of values in [0, 1000]")
        for v in self.eval_noise_kms:
            check_range("experiment", "eval_noise_kms[]", v, 0.0, 1000.0)
        check_choice("experiment", "study", self.study, ("paper", "n_gc", "smoothing"))
        if "n_angles" in self.maps:
            raise ConfigError("experiment.maps.n_angles is set per scale (scales.<scale>.n_angles); "
                              "remove it from maps")
        for scale in self.scales:
            check_choice("experiment", "scales", scale, SCALES)
        missing = [s for s in REQUIRED_SCALES if s not in self.scales]
        if missing:
            raise ConfigError(f"experiment.scales lacks {', '.join(missing)}; required: "
                              f"{', '.join(REQUIRED_SCALES)} (optional: test, workstation)")
        if "suite" in self.splits and "unknown" not in self.suites:
            raise ConfigError("experiment.splits has 'suite' (test on the unknown suite) but "
                              "experiment.suites has no 'unknown' suite")
        if self.train_suites is not None:
            if not self.train_suites or len(set(self.train_suites)) != len(self.train_suites):
                raise ConfigError(f"experiment.train_suites = {list(self.train_suites)} must name one or "
                                  "more distinct suites")
            for name in self.train_suites:
                check_choice("experiment", "train_suites[]", name, tuple(self.suites))
            if not set(self.splits) & set(FILTERED_SPLITS):
                raise ConfigError("experiment.train_suites applies to the 'model' and 'image' splits; "
                                  f"splits = {list(self.splits)}")
        for scale in self.scales:  # the campaign's own validation, now rather than at run time
            self.campaign_config(scale)

    def scale(self, scale: str) -> ScaleSpec:
        """The sizes at ``scale``; the error lists the scales this experiment defines."""
        check_choice(f"experiment[{self.name}]", "scale", scale, tuple(self.scales))
        return self.scales[scale]

    def suites_for(self, split: str) -> tuple[str, ...] | None:
        """The suite filter the nets of ``split`` train and test with (None for the ``suite`` split)."""
        check_choice(f"experiment[{self.name}]", "split", split, self.splits)
        return self.train_suites if split in FILTERED_SPLITS else None

    def campaign_mapping(self, scale: str) -> dict[str, Any]:
        """The campaign config mapping of this experiment at ``scale`` (YAML-ready, plain types)."""
        s = self.scale(scale)
        return {"name": f"{self.campaign}-{scale}", "seed": CAMPAIGN_SEED, "preset": s.preset,
                "preset_overrides": dict(s.preset_overrides), "sampler": "sobol", "n_models": s.n_models,
                "suites": {k: dict(v or {}) for k, v in self.suites.items()},
                "maps": {**self.maps, "n_angles": s.n_angles}}

    def campaign_config(self, scale: str) -> Any:
        """The validated :class:`gcs_hpc.campaign.config.CampaignConfig` at ``scale``."""
        from gcs_hpc.campaign.config import config_from_mapping

        try:
            return config_from_mapping(self.campaign_mapping(scale),
                                       source=f"experiment {self.name!r}, scale {scale!r}")
        except ConfigError as exc:
            raise ConfigError(str(exc)) from None


def load_shared_scales(directory: str | Path = EXPERIMENT_DIR) -> dict[str, dict[str, Any]]:
    """The sizes of every scale, from ``<directory>/scales.yaml`` (:data:`SCALES_FILE`).

    Returns
    -------
    dict
        Scale name -> mapping of :class:`ScaleSpec` keys (checked when an experiment resolves them).

    Raises
    ------
    ConfigError
        The file is missing or unreadable, names a scale outside :data:`SCALES`, or a scale's sizes are
        not a mapping.
    """
    path = Path(directory) / f"{SCALES_FILE}.yaml"
    source = f"scales file {str(path)!r}"
    data = load_yaml(path)
    for scale, sizes in data.items():
        check_choice(source, "scale", scale, SCALES)
        if not isinstance(sizes, Mapping):
            raise ConfigError(f"{source}: {scale} = {sizes!r} must be a mapping of sizes (ScaleSpec keys)")
    return {str(k): dict(v) for k, v in data.items()}


def resolve_scales(scales: Mapping[str, Any], shared: Mapping[str, Mapping[str, Any]], *,
                   source: str = "experiment") -> dict[str, ScaleSpec]:
    """An experiment's ``scales:`` over the shared sizes: each scale it lists, the keys it gives replacing
    the shared ones (``preset_overrides`` as a whole); a :class:`ScaleSpec` is taken as it is.

    Parameters
    ----------
    scales
        Scale name -> changes (a mapping, empty or None for the shared sizes unchanged) or a ScaleSpec.
    shared
        Scale name -> sizes (:func:`load_shared_scales`).
    source
        Where ``scales`` came from, for error messages.
    """
    resolved = {}
    for scale, changes in scales.items():
        check_choice("experiment", "scales", scale, SCALES)
        if isinstance(changes, ScaleSpec):
            resolved[str(scale)] = changes
            continue
        if changes is not None and not isinstance(changes, Mapping):
            raise ConfigError(f"{source}: scales.{scale} = {changes!r} must be a mapping of the sizes that "
                              f"differ from {SCALES_FILE}.yaml (or {{}} for none)")
        resolved[str(scale)] = spec_from_mapping(ScaleSpec, {**shared.get(scale, {}), **(changes or {})},
                                                 where=f"scales.{scale}")
    return resolved


def experiment_from_mapping(mapping: Mapping[str, Any], *, source: str = "experiment",
                            shared_scales: Mapping[str, Mapping[str, Any]] | None = None) -> ExperimentSpec:
    """Build an :class:`ExperimentSpec` from a mapping read from YAML; errors name ``source`` and the key.

    ``shared_scales`` (default: the shipped ``scales.yaml``) gives the sizes the mapping's ``scales``
    change (:func:`resolve_scales`).
    """
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{source}: must be a mapping of keys to values")
    data = dict(mapping)
    scales = data.get("scales")
    try:
        if scales is not None:
            if not isinstance(scales, Mapping):
                raise ConfigError(f"scales = {scales!r} must be a mapping of scale name to sizes")
            shared = load_shared_scales() if shared_scales is None else shared_scales
            data["scales"] = resolve_scales(scales, shared, source=source)
        return spec_from_mapping(ExperimentSpec, data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def experiment_names(directory: str | Path = EXPERIMENT_DIR) -> list[str]:
    """Names of the experiment files in ``directory``, in the paper's order (DL1..DL5 first); the shared
    ``scales.yaml`` is not one."""
    names = [p.stem for p in Path(directory).glob("*.yaml") if p.stem != SCALES_FILE]
    return sorted(names, key=lambda n: (not n.startswith("DL"), n.lower()))


def load_experiment(name: str, directory: str | Path = EXPERIMENT_DIR) -> ExperimentSpec:
    """Read ``<directory>/<name>.yaml`` (or a path to a YAML file); the file's stem must be its name.

    Its scales change the sizes of the ``scales.yaml`` in the file's own folder, or of the shipped one
    when that folder has none.
    """
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = Path(directory) / f"{name}.yaml"
    if not path.is_file() or path.stem == SCALES_FILE:
        known = experiment_names(directory)
        raise ConfigError(f"experiment {name!r} not found ({path}); allowed: {', '.join(known) or 'none'}, "
                          "or 'all'")
    data = load_yaml(path)
    beside = path.parent if (path.parent / f"{SCALES_FILE}.yaml").is_file() else EXPERIMENT_DIR
    spec = experiment_from_mapping(data, source=f"experiment file {str(path)!r}",
                                   shared_scales=load_shared_scales(beside))
    if spec.name != path.stem:
        raise ConfigError(f"experiment file {str(path)!r}: name = {spec.name!r} must equal the file name "
                          f"{path.stem!r}")
    return spec


def load_experiments(names: list[str] | str, directory: str | Path = EXPERIMENT_DIR) -> list[ExperimentSpec]:
    """Load ``names`` (``"all"`` for every file of ``directory``)."""
    if names == "all" or names == ["all"]:
        names = experiment_names(directory)
    if isinstance(names, str):
        names = [names]
    return [load_experiment(n, directory) for n in names]


def check_shared_stores(specs: list[ExperimentSpec], scale: str) -> dict[str, list[ExperimentSpec]]:
    """Group experiments by campaign store at ``scale``; experiments naming one store must agree on its
    config (else the second would be refused by the store after the first filled it)."""
    groups: dict[str, list[ExperimentSpec]] = {}
    for spec in specs:
        group = groups.setdefault(spec.campaign, [])
        if group and group[0].campaign_mapping(scale) != spec.campaign_mapping(scale):
            raise ConfigError(f"experiments {group[0].name!r} and {spec.name!r} share campaign "
                              f"{spec.campaign!r} but differ in its suites, maps or sizes at scale "
                              f"{scale!r}; give one of them another campaign name")
        group.append(spec)
    return groups
