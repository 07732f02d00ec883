"""Build one galaxy model and describe it: ``python -m gcs_hpc.galaxy --kind disk --preset quick --json``.

Every value is validated by the specs (:mod:`gcs_hpc.specs`); a bad value exits with status 2 and a
message naming the field, the value and the allowed range.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any, Sequence

from gcs_hpc.cli import with_help_defaults
from gcs_hpc.config import load_yaml, spec_from_mapping
from gcs_hpc.errors import ConfigError
from gcs_hpc.galaxy.diagnostics import describe_model
from gcs_hpc.specs import PRESETS, GalaxySpec, MergerSpec, ModelSpec, get_preset

GALAXY_OPTIONS = {"M_halo": "--M-halo", "c": "--c", "f_bary": "--f-bary", "f_b": "--f-b",
                  "f_rot": "--f-rot", "n_gc": "--n-gc"}
MERGER_OPTIONS = {"m2": "--m2", "f_v": "--f-v", "theta_1": "--theta-1", "theta_2": "--theta-2",
                  "separation": "--separation"}


def _value(text: str) -> Any:
    """Parse a command-line value as int, float or string (the specs check the type)."""
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (values are parsed loosely here and validated by the specs)."""
    parser = argparse.ArgumentParser(prog="python -m gcs_hpc.galaxy", description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="disk", type=str, help="disk or merger (default disk)")
    parser.add_argument("--preset", default="quick", help=f"one of {', '.join(PRESETS)} (default quick)")
    parser.add_argument("--seed", default="0", help="random seed, integer >= 0 (default 0)")
    parser.add_argument("--config", help="YAML file with 'galaxy' and 'merger' mappings (options win; default: none)")
    parser.add_argument("--json", action="store_true", help="print the full summary as JSON")
    for spec, options, where in ((GalaxySpec, GALAXY_OPTIONS, "galaxy"),
                                 (MergerSpec, MERGER_OPTIONS, "merger; merger models only")):
        defaults = {f.name: f.default for f in dataclasses.fields(spec)}
        for name, flag in options.items():
            default = defaults.get(name)
            shown = "from the other parameters" if default is None else f"{default:g}"
            parser.add_argument(flag, dest=name, help=f"{where.split(';')[0]}.{name} ({where.partition('; ')[2]}"
                                f"{'; ' if ';' in where else ''}see {spec.__name__}; default: {shown})")
    return with_help_defaults(parser)


def spec_from_args(args: argparse.Namespace) -> ModelSpec:
    """Turn parsed options (and the optional YAML file) into a validated :class:`ModelSpec`."""
    file = load_yaml(args.config) if args.config else {}
    unknown = sorted(set(file) - {"galaxy", "merger"})
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in {args.config}; allowed keys: galaxy, merger")
    galaxy = dict(file.get("galaxy") or {})
    galaxy.update({k: _value(getattr(args, k)) for k in GALAXY_OPTIONS if getattr(args, k) is not None})
    merger = dict(file.get("merger") or {})
    merger.update({k: _value(getattr(args, k)) for k in MERGER_OPTIONS if getattr(args, k) is not None})
    kind = args.kind
    if kind == "disk" and merger:
        raise ConfigError(f"merger options ({', '.join(sorted(merger))}) given with model.kind = 'disk'; "
                          "allowed only with --kind merger")
    mapping = {
        "kind": kind,
        "galaxy": spec_from_mapping(GalaxySpec, galaxy, where="galaxy"),
        "preset": get_preset(args.preset),
        "seed": _value(args.seed),
    }
    if kind == "merger":
        mapping["merger"] = spec_from_mapping(MergerSpec, merger, where="merger")
    return spec_from_mapping(ModelSpec, mapping, where="model")


def _text_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['spec']['kind']} model, seed {summary['spec']['seed']}, preset "
             f"{summary['spec']['preset']['name']}: {summary['n_particles']} particles {summary['counts']}",
             f"M_total = {summary['M_total_msun']:.4g} Msun, "
             f"virial ratio 2T/|W| = {summary['virial_ratio']:.3f}"]
    for i, g in enumerate(summary["galaxies"]):
        lines.append(f"galaxy {i}: R_d = {g['disk_size_kpc']:.2f} kpc, "
                     f"R_vir = {g['virial_radius_kpc']:.1f} kpc, c = {g['concentration']:.2f}, "
                     f"Q(2 R0) = {g['toomre_q_2R0']:.2f}, "
                     f"2T/|W| = {g['virial_ratio']:.3f}, GCS f_rot = {g['gcs_f_rot_measured']:.3f}, "
                     f"GCS r_half = {g['gcs_half_number_radius_kpc']['measured']:.1f} kpc")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for invalid input)."""
    args = build_parser().parse_args(argv)
    try:
        spec = spec_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = describe_model(spec)
    print(json.dumps(summary, indent=2) if args.json else _text_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
