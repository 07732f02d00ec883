"""YAML -> frozen, validated specs: the machinery every spec in gcs_hpc uses.

A spec is a frozen dataclass that validates itself in ``__post_init__`` with :func:`check_range` and
friends (never ``assert``). :func:`spec_from_mapping` turns a mapping read from YAML into such a spec,
rejecting unknown keys and wrong types with a message that names the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

import yaml

from gcs_hpc.errors import ConfigError

T = TypeVar("T")


def _where(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def check_range(
    where: str,
    name: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise :class:`ConfigError` unless ``low <= value <= high`` (open ends where asked) and finite.

    The message names the key (``where.name``), the value and the allowed range.
    """
    key = _where(where, name)
    lo_b = "(" if low_open else "["
    hi_b = ")" if high_open else "]"
    allowed = f"{lo_b}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi_b}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} = {value!r} is not a number; allowed range {allowed}")
    if not math.isfinite(value):
        raise ConfigError(f"{key} = {value!r} is not finite; allowed range {allowed}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        raise ConfigError(f"{key} = {value!r} is out of range; allowed range {allowed}")


def check_choice(where: str, name: str, value: Any, choices: typing.Iterable[Any]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(
            f"{_where(where, name)} = {value!r} is not allowed; allowed values: "
            + ", ".join(repr(c) for c in choices)
        )


def check_interval(where: str, name: str, value: tuple[float, float], low: float | None,
                   high: float | None, *, low_open: bool = False) -> None:
    """Validate a ``(lo, hi)`` parameter range: two numbers inside [low, high] with lo <= hi."""
    key = _where(where, name)
    if not isinstance(value, tuple) or len(value) != 2:
        raise ConfigError(f"{key} = {value!r} must be a pair [low, high]")
    for i, v in enumerate(value):
        check_range(where, f"{name}[{i}]", v, low, high, low_open=low_open)
    if value[0] > value[1]:
        raise ConfigError(f"{key} = {list(value)!r}: low end exceeds high end; allowed: low <= high")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check (and gently coerce: int -> float, list -> tuple) ``value`` against the type hint ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        if len(errors) == 1:  # an optional value (X | None): X's own message names the nested key
            raise ConfigError(errors[0])
        raise ConfigError(f"{key} = {value!r} has the wrong type; expected {_type_name(tp)}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key} = {value!r} is not allowed; allowed values: "
                              + ", ".join(repr(a) for a in args))
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} = {value!r} has the wrong type; expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{key} = {value!r} must have exactly {len(args)} items")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} = {value!r} has the wrong type; expected a mapping")
        if args:
            return {k: _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} = {value!r} has the wrong type; expected a mapping of {tp.__name__}")
        return spec_from_mapping(tp, value, where=key)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} = {value!r} has the wrong type; expected a number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} = {value!r} has the wrong type; expected an integer")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r} has the wrong type; expected true or false")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} = {value!r} has the wrong type; expected a string")
        return value
    return value


def spec_from_mapping(cls: type[T], mapping: Mapping[str, Any] | None, where: str = "") -> T:
    """Build the frozen dataclass ``cls`` from ``mapping``, validating keys and types.

    Parameters
    ----------
    cls
        A dataclass whose ``__post_init__`` checks ranges.
    mapping
        Keys are field names; missing keys take the field defaults.
    where
        Dotted prefix used in error messages (e.g. ``"suites.disk"``).

    Raises
    ------
    ConfigError
        For an unknown key (listing the allowed ones), a wrong type or an out-of-range value.
    """
    mapping = {} if mapping is None else mapping
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where or cls.__name__} = {mapping!r} must be a mapping of keys to values")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key {_where(where, unknown[0])!r}; allowed keys: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(value, hints[name], _where(where, name)) for name, value in mapping.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required key missing
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


def spec_to_dict(spec: Any) -> dict[str, Any]:
    """Return a plain, YAML/JSON-serialisable dict of a (nested) spec dataclass."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(spec)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping that names the same key twice (PyYAML would silently keep the last value)."""

    def __init__(self, key: Any, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r} on line {line} (first given on line {first_line}); "
                         "allowed: each key once per mapping")
        self.key, self.line, self.first_line = key, line, first_line


#: YAML 1.2 floats: ``1e11`` and ``1E-3`` are floats (YAML 1.1, PyYAML's default, wants ``1.0e+11``).
_YAML12_FLOAT = re.compile(r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate mapping keys and reads YAML 1.2 floats (``1e11``)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # ``<<: *defaults`` may be overridden by explicit keys
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = key in first
                except TypeError:  # an unhashable key: SafeLoader's own error names it
                    continue
                line = key_node.start_mark.line + 1
                if seen:
                    raise DuplicateKeyError(key, line, first[key])
                first[key] = line
        return super().construct_mapping(node, deep=deep)


ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+0123456789."))


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML ``text`` with :class:`ConfigLoader`; errors are :class:`ConfigError` naming ``source``."""
    try:
        return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except DuplicateKeyError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file that must hold a non-empty mapping; errors name the file.

    Every config (models, cluster, experiments) is read here: duplicate keys are refused (naming the key
    and its lines), ``1e11`` is a float (YAML 1.2), and an empty or undecodable file is an error, never
    a silent default.

    Raises
    ------
    ConfigError
        For a missing, unreadable, non-UTF-8, invalid, empty or non-mapping file, or a duplicate key.
    """
    path = Path(path)
    source = f"config file {str(path)!r}"
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ConfigError(f"{source} {what}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source} cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                          "allowed: a YAML text file") from None
    data = parse_yaml(text, source)
    if data is None:
        raise ConfigError(f"{source} is empty (no keys); allowed: a mapping of settings. Leave out the "
                          "option to use the defaults")
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a mapping at top level, got {type(data).__name__}")
    if not data:
        raise ConfigError(f"{source} holds an empty mapping ({{}}); allowed: a mapping of settings. Leave "
                          "out the option to use the defaults")
    return data


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Serialise a plain mapping as YAML text (stable key order)."""
    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=None)
