"""The physics config of a campaign: suites, parameter ranges, preset, seed and maps (YAML -> frozen specs).

A campaign config says *what* to simulate, never *where* (that is :mod:`gcs_hpc.campaign.cluster`). It is
read from YAML (``configs/models/*.yaml``) or taken from the embedded default (:data:`DEFAULT_CONFIG`,
identical to ``configs/models/default.yaml``), validated completely before anything runs, and written into
the store (:func:`config_to_yaml`) so a rerun with another config is refused.

The default campaign's maps are in units of R_half, the stars' projected half-mass radius
(:data:`DEFAULT_MAPS`, issue 15); the paper's unit R_d (disk size, which no telescope measures) is the
choice of configs that say ``fov_unit: R_d`` (the paper's experiments; keys a ``maps:`` section leaves
out take MapSpec's values, the paper's grid).

Suites are named groups of models of one kind sharing parameter ranges: ``disk`` (isolated disks),
``merger`` (major mergers) and ``unknown`` (mergers whose parameters lie outside the merger suite's
ranges, the paper's "completely unknown" test set). Each suite takes either a ``fraction`` of the
campaign's models or a fixed ``count``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from gcs_hpc.config import check_choice, check_range, dump_yaml, load_yaml, spec_from_mapping, spec_to_dict
from gcs_hpc.errors import ConfigError
from gcs_hpc.specs import MODEL_KINDS, SURVEY_MAPS, GalaxySpec, MapSpec, MergerSpec, Preset, get_preset

SAMPLERS = ("sobol", "halton")
#: Parameters sampled for every galaxy, and in addition for mergers.
GALAXY_PARAMETERS = ("M_halo", "c", "f_bary", "f_b", "f_rot")
MERGER_PARAMETERS = ("m2", "f_v", "theta_1", "theta_2", "separation")

Interval = tuple[float, float]

# Per-suite defaults, merged under what a YAML file gives (so ``unknown: {fraction: 0.1}`` is enough).
_MERGER_DEFAULTS: dict[str, Any] = {
    "m2": (0.3, 1.0), "f_v": (0.05, 1.0), "theta_1": (0.0, 180.0), "theta_2": (0.0, 180.0),
    "separation": (4.0, 8.0),
}
SUITE_DEFAULTS: dict[str, dict[str, Any]] = {
    "disk": {"kind": "disk"},
    "merger": {"kind": "merger", **_MERGER_DEFAULTS},
    # Outside the merger suite's ranges: smaller mass ratios and wider initial separations.
    "unknown": {"kind": "merger", **_MERGER_DEFAULTS, "m2": (0.1, 0.3), "separation": (8.0, 10.0),
                "outside_of": "merger"},
}


@dataclass(frozen=True)
class SuiteConfig:
    """One suite: a kind of model, its share of the campaign and the ranges its parameters are drawn from.

    Ranges are ``(low, high)`` pairs; ``low == high`` fixes a parameter. ``M_halo`` is drawn
    log-uniformly, the spin angles ``theta_1``, ``theta_2`` uniformly in cos(theta) (isotropic spins),
    everything else uniformly.

    Attributes
    ----------
    name
        Suite label written into the store (``disk``, ``merger``, ``unknown``, ...).
    kind
        ``"disk"`` or ``"merger"``.
    fraction, count
        Share of the campaign's models (fractions of all fraction-suites sum to 1) or a fixed number;
        exactly one of the two.
    M_halo, c, f_bary, f_b, f_rot
        Galaxy parameter ranges (see :class:`gcs_hpc.specs.GalaxySpec`); ``c = None`` takes the
        concentration from the c-M relation.
    n_gc
        Globular clusters per (primary) galaxy.
    m2, f_v, theta_1, theta_2, separation
        Merger orbit ranges (see :class:`gcs_hpc.specs.MergerSpec`); mergers only.
    outside_of
        Name of a merger suite whose ranges this suite must avoid in at least one merger parameter
        (intervals that overlap at most at an end point): the "completely unknown" test set.
    """

    name: str
    kind: Literal["disk", "merger"]
    fraction: float | None = None
    count: int | None = None
    M_halo: Interval = (1.0e11, 1.0e13)
    c: Interval | None = None
    f_bary: Interval = (0.03, 0.09)
    f_b: Interval = (0.0, 1.0)
    f_rot: Interval = (0.0, 0.5)
    n_gc: int = 200
    m2: Interval | None = None
    f_v: Interval | None = None
    theta_1: Interval | None = None
    theta_2: Interval | None = None
    separation: Interval | None = None
    outside_of: str | None = None

    def __post_init__(self) -> None:
        where = f"suites.{self.name}"
        check_choice(where, "kind", self.kind, MODEL_KINDS)
        if (self.fraction is None) == (self.count is None):
            raise ConfigError(f"{where}: give exactly one of 'fraction' (0..1) or 'count' (>= 0); "
                              f"got fraction = {self.fraction!r}, count = {self.count!r}")
        if self.fraction is not None:
            check_range(where, "fraction", self.fraction, 0.0, 1.0)
        if self.count is not None:
            check_range(where, "count", self.count, 0, 10_000_000)
        for name in GALAXY_PARAMETERS:
            _check_interval_against_spec(where, name, getattr(self, name), GalaxySpec)
        check_range(where, "n_gc", self.n_gc, 1, 1_000_000)
        for name in MERGER_PARAMETERS:
            value = getattr(self, name)
            if self.kind == "disk" and value is not None:
                raise ConfigError(f"{where}.{name} = {list(value)!r} is a merger parameter; "
                                  f"allowed only when {where}.kind = 'merger'")
            if self.kind == "merger":
                if value is None:
                    raise ConfigError(f"{where}.{name} is required for kind 'merger' (a pair [low, high])")
                _check_interval_against_spec(where, name, value, MergerSpec)
        if self.outside_of is not None and self.kind != "merger":
            raise ConfigError(f"{where}.outside_of = {self.outside_of!r} is allowed only for kind 'merger'")

    def intervals(self) -> dict[str, Interval]:
        """The sampled parameters of this suite and their ranges, in a fixed order (None ones left out)."""
        names = GALAXY_PARAMETERS + (MERGER_PARAMETERS if self.kind == "merger" else ())
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


def _check_interval_against_spec(where: str, name: str, value: Interval | None, spec_cls: type) -> None:
    """Validate a ``(low, high)`` range; each end must be a value the spec itself accepts."""
    if value is None:
        if name == "c":
            return
        raise ConfigError(f"{where}.{name} must be a pair [low, high]")
    key = f"{where}.{name}"
    if not isinstance(value, tuple) or len(value) != 2:
        raise ConfigError(f"{key} = {value!r} must be a pair [low, high]")
    for end in value:
        if isinstance(end, bool) or not isinstance(end, (int, float)) or not math.isfinite(end):
            raise ConfigError(f"{key} = {list(value)!r}: {end!r} is not a finite number")
        try:
            spec_cls(**{name: end})  # the spec owns the allowed range; one source of truth
        except ConfigError as exc:
            raise ConfigError(f"{key} = {list(value)!r}: {exc}") from None
    if value[0] > value[1]:
        raise ConfigError(f"{key} = {list(value)!r}: low end exceeds high end; allowed: low <= high")


@dataclass(frozen=True)
class PresetOverrides:
    """Changes to the named preset (for tests and short trial runs); ``None`` keeps the preset's value."""

    n_halo: int | None = None
    n_disk: int | None = None
    softening_kpc: float | None = None
    t_end_disk: float | None = None
    t_end_merger: float | None = None
    energy_tolerance: float | None = None

    def apply(self, preset: Preset) -> Preset:
        """Return ``preset`` with these overrides (validated by :class:`Preset` itself)."""
        changes = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                   if getattr(self, f.name) is not None}
        try:
            return dataclasses.replace(preset, **changes)
        except ConfigError as exc:
            raise ConfigError(f"preset_overrides: {exc}") from None


@dataclass(frozen=True)
class CampaignConfig:
    """Everything a campaign simulates: suites with their ranges, the preset, the seed and the maps.

    Attributes
    ----------
    name
        Campaign label (provenance).
    seed
        Campaign seed: the quasi-random samples and every model's seed derive from it.
    preset
        Resolution preset name (``tiny``, ``quick``, ``paper``).
    preset_overrides
        Field-by-field changes to that preset (e.g. a short ``t_end_disk`` for tests).
    sampler
        Quasi-random sequence: ``sobol`` or ``halton`` (both scrambled with the seed).
    n_models
        Default number of models when the command line gives none.
    suites
        The suites, in the order their models are laid out in the store.
    maps
        How maps are made (:class:`gcs_hpc.specs.MapSpec`).
    """

    name: str = "gcs-campaign"
    seed: int = 2021
    preset: str = "quick"
    preset_overrides: PresetOverrides = field(default_factory=PresetOverrides)
    sampler: Literal["sobol", "halton"] = "sobol"
    n_models: int | None = None
    suites: tuple[SuiteConfig, ...] = ()
    maps: MapSpec = field(default_factory=MapSpec)

    def __post_init__(self) -> None:
        check_range("", "seed", self.seed, 0, 2**63 - 1)
        get_preset(self.preset)
        self.preset_overrides.apply(get_preset(self.preset))
        check_choice("", "sampler", self.sampler, SAMPLERS)
        if self.n_models is not None:
            check_range("", "n_models", self.n_models, 1, 10_000_000)
        if not self.suites:
            raise ConfigError("suites: at least one suite is required (e.g. disk, merger, unknown)")
        names = [s.name for s in self.suites]
        if len(set(names)) != len(names):
            raise ConfigError(f"suites: names must be unique, got {names}")
        fractions = [s.fraction for s in self.suites if s.fraction is not None]
        if fractions and not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
            shares = ", ".join(f"{s.name}={s.fraction}" for s in self.suites if s.fraction is not None)
            raise ConfigError(f"suites.*.fraction must sum to 1; got {sum(fractions):.6g} ({shares})")
        by_name = {s.name: s for s in self.suites}
        for suite in self.suites:
            if suite.outside_of is not None:
                _check_outside(suite, by_name)

    @property
    def resolved_preset(self) -> Preset:
        """The named preset with the overrides applied."""
        return self.preset_overrides.apply(get_preset(self.preset))

    def suite_counts(self, n_models: int) -> dict[str, int]:
        """Models per suite for a campaign of ``n_models``: fixed counts first, the rest by fraction.

        Fractions are turned into whole numbers by the largest-remainder rule (ties to the earlier suite).

        Raises
        ------
        ConfigError
            If the counts exceed ``n_models``, or they do not add up to it and no suite has a fraction.
        """
        check_range("", "n_models", n_models, 1, 10_000_000)
        fixed = sum(s.count for s in self.suites if s.count is not None)
        rest = n_models - fixed
        frac_suites = [s for s in self.suites if s.fraction is not None]
        if rest < 0 or (rest > 0 and not frac_suites):
            detail = ", ".join(f"{s.name}={s.count}" for s in self.suites if s.count is not None)
            raise ConfigError(f"n_models = {n_models} does not match the suites' counts ({detail}, sum "
                              f"{fixed}); allowed: n_models >= {fixed}, and = {fixed} unless a suite has "
                              "a fraction")
        shares = {s.name: s.fraction * rest for s in frac_suites}
        counts = {s.name: (s.count if s.count is not None else int(math.floor(shares[s.name])))
                  for s in self.suites}
        left = rest - sum(counts[s.name] for s in frac_suites)
        by_remainder = sorted(frac_suites, key=lambda s: -(shares[s.name] - math.floor(shares[s.name])))
        for s in by_remainder[:left]:
            counts[s.name] += 1
        return counts


def _check_outside(suite: SuiteConfig, by_name: Mapping[str, SuiteConfig]) -> None:
    where = f"suites.{suite.name}.outside_of"
    other = by_name.get(suite.outside_of)
    if other is None or other.kind != "merger":
        allowed = [n for n, s in by_name.items() if s.kind == "merger" and n != suite.name]
        raise ConfigError(f"{where} = {suite.outside_of!r} is not a merger suite of this config; "
                          f"allowed: {allowed}")
    for name in MERGER_PARAMETERS:
        (a0, a1), (b0, b1) = getattr(suite, name), getattr(other, name)
        if a1 <= b0 or b1 <= a0:
            return
    raise ConfigError(f"{where} = {suite.outside_of!r}: every merger range of suite {suite.name!r} overlaps "
                      f"suite {other.name!r}; allowed: at least one of {', '.join(MERGER_PARAMETERS)} "
                      "outside the other suite's range (touching at an end is fine)")


def config_from_mapping(mapping: Mapping[str, Any] | None, *, source: str = "config") -> CampaignConfig:
    """Build a :class:`CampaignConfig` from a mapping read from YAML (suite defaults merged in).

    Raises
    ------
    ConfigError
        Naming ``source`` and the offending key, value and allowed range.
    """
    data = dict(mapping or {})
    suites_in = data.pop("suites", None)
    if suites_in is None:
        suites_in = DEFAULT_SUITES
    if not isinstance(suites_in, Mapping):
        raise ConfigError(f"{source}: suites = {suites_in!r} must be a mapping of suite name to settings")
    suites = []
    try:
        for name, settings in suites_in.items():
            if settings is not None and not isinstance(settings, Mapping):
                raise ConfigError(f"suites.{name} = {settings!r} must be a mapping of settings")
            defaults = dict(SUITE_DEFAULTS.get(str(name), {}))
            if defaults.get("outside_of") not in suites_in:  # nothing to stay outside of
                defaults.pop("outside_of", None)
            merged = {**defaults, **(settings or {}), "name": str(name)}
            if "kind" not in merged:
                raise ConfigError(f"suites.{name}.kind is required for a suite not called disk, merger or "
                                  f"unknown; allowed values: {', '.join(map(repr, MODEL_KINDS))}")
            suites.append(spec_from_mapping(SuiteConfig, merged, where=f"suites.{name}"))
        data["suites"] = tuple(suites)
        return spec_from_mapping(CampaignConfig, data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_campaign_config(path: str | Path | None = None) -> CampaignConfig:
    """Read a campaign config from a YAML file; ``None`` gives the embedded default."""
    if path is None:
        return DEFAULT_CONFIG
    return config_from_mapping(load_yaml(path), source=f"config file {str(path)!r}")


def config_to_yaml(config: CampaignConfig, n_models: int) -> str:
    """The config as stored in (and compared against) the store: resolved preset, suite counts, n_models."""
    data = spec_to_dict(config)
    data["n_models"] = n_models
    data["preset_overrides"] = {k: v for k, v in data["preset_overrides"].items() if v is not None}
    data["suites"] = {s.pop("name"): {k: v for k, v in s.items() if v is not None} for s in data["suites"]}
    counts = config.suite_counts(n_models)
    for name, suite in data["suites"].items():
        suite["n_models"] = counts[name]
    data["preset_resolved"] = spec_to_dict(config.resolved_preset)
    return dump_yaml(data)


#: Default suites: half isolated disks, 40 % mergers, 10 % "completely unknown" mergers.
DEFAULT_SUITES: dict[str, dict[str, Any]] = {
    "disk": {"fraction": 0.5},
    "merger": {"fraction": 0.4},
    "unknown": {"fraction": 0.1},
}

#: Maps of the default campaign: 10 x 10 pixels over 8 R_half (the stars' projected half-mass radius, which
#: real galaxies have as R_e), one-pixel smoothing: the grid of the SLUGGS observation model
#: (configs/observation/sluggs.yaml), so a real galaxy needs its measured R_e and no guessed disk size.
#: The paper's grid (1.2 R_d, smoothing 0.12 R_d: :class:`~gcs_hpc.specs.MapSpec`'s own defaults, which
#: keys left out of a ``maps:`` section take) stays available:
#: ``maps: {fov: 1.2, fov_unit: R_d, smoothing: 0.12}``.
DEFAULT_MAPS = SURVEY_MAPS

#: The embedded default campaign (same as configs/models/default.yaml): quick preset, maps in R_half.
DEFAULT_CONFIG: CampaignConfig = config_from_mapping({"name": "default", "maps": spec_to_dict(DEFAULT_MAPS)},
                                                     source="embedded default")
