"""The import graph of gcs_hpc: data flows one way, physics knows no clusters, observe stays thin.

Every ``import`` of a gcs_hpc module (also those inside functions) is read with :mod:`ast`; nothing is
imported. ``python -m tests.test_architecture`` prints the module and edge counts and any edge against
the flow (the figures quoted in the architecture note).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "gcs_hpc"

#: Modules directly under gcs_hpc/ form the ground floor (units, errors, config, specs, xp, ...).
BASE = "base"

#: Floor -> the floors it may import (besides itself and everything below them). The flow of the
#: house: config -> galaxy -> nbody -> maps -> store -> campaign; store -> learn; observe -> maps/learn.
ALLOWED: dict[str, frozenset[str]] = {
    BASE: frozenset(),
    "galaxy": frozenset({BASE}),
    "nbody": frozenset({BASE, "galaxy"}),
    "maps": frozenset({BASE, "galaxy", "nbody"}),
    "store": frozenset({BASE, "galaxy", "nbody", "maps"}),
    "campaign": frozenset({BASE, "galaxy", "nbody", "maps", "store"}),
    "learn": frozenset({BASE, "maps", "store"}),
    "observe": frozenset({BASE, "maps", "store", "learn"}),
    "experiments": frozenset({BASE, "galaxy", "nbody", "maps", "store", "campaign", "learn", "observe"}),
}

#: The only modules of learn that observe may use (a trained net's predictions, not training or data).
OBSERVE_MAY_USE_FROM_LEARN = frozenset({"gcs_hpc.learn", "gcs_hpc.learn.predict"})

#: Floors that do physics: they take and return arrays and specs and know nothing of clusters or nets.
PHYSICS = ("galaxy", "nbody", "maps", BASE)
FORBIDDEN_IN_PHYSICS = ("dask", "distributed", "dask_jobqueue", "tensorflow", "keras")


def module_name(path: Path) -> str:
    """Dotted module name of a file under gcs_hpc/ (``gcs_hpc/nbody/__init__.py`` -> ``gcs_hpc.nbody``)."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def floor(name: str) -> str:
    """The floor a module lives on: its sub-package, or BASE for modules directly under gcs_hpc/."""
    parts = name.split(".")
    if len(parts) == 1 or f"gcs_hpc.{parts[1]}" in _base_modules():
        return BASE
    return parts[1]


def _base_modules() -> set[str]:
    return {f"gcs_hpc.{path.stem}" for path in PACKAGE_DIR.glob("*.py")} | {"gcs_hpc"}


def imported_names(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Absolute names of what a module imports (top level and inside functions).

    ``from package import module`` names the module; ``from module import function`` names the module.
    """
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            submodules = [f"{stem}.{alias.name}" for alias in node.names if f"{stem}.{alias.name}" in known]
            yield from submodules
            if len(submodules) < len(node.names):
                yield stem


def import_graph() -> tuple[set[str], set[tuple[str, str]], dict[str, set[str]]]:
    """(modules, internal edges importer -> imported module, external top-level packages per module)."""
    known = modules()
    edges: set[tuple[str, str]] = set()
    external: dict[str, set[str]] = {}
    for name, path in known.items():
        for target in imported_names(name, path, set(known)):
            if target.split(".")[0] != "gcs_hpc":
                external.setdefault(name, set()).add(target.split(".")[0])
            elif target != name:
                while target not in known:  # "import gcs_hpc.x.y" of a name, not a module
                    target = target.rpartition(".")[0]
                edges.add((name, target))
    return set(known), edges, external


def against_the_flow(edges: set[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Edges that break the house's rules, each with the reason."""
    bad = []
    for importer, imported in sorted(edges):
        source, target = floor(importer), floor(imported)
        if imported.endswith(".__main__"):
            bad.append((importer, imported, "imports a command-line module"))
        if source == target:
            continue
        if target not in ALLOWED[source]:
            bad.append((importer, imported, f"{source} may not import {target}"))
        elif source == "observe" and target == "learn" and imported not in OBSERVE_MAY_USE_FROM_LEARN:
            bad.append((importer, imported, "observe may use only learn.predict"))
    return bad


def physics_importing_clusters(external: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(module, package) pairs where a physics module imports dask, dask-jobqueue or TensorFlow."""
    return sorted((name, package) for name, packages in external.items() if floor(name) in PHYSICS
                  for package in packages & set(FORBIDDEN_IN_PHYSICS))


def floor_cycles() -> list[str]:
    """Floors that can reach themselves through ALLOWED (the table itself must be a DAG)."""
    cyclic = []
    for start in ALLOWED:
        seen, todo = set(), list(ALLOWED[start])
        while todo:
            current = todo.pop()
            if current == start:
                cyclic.append(start)
                break
            if current not in seen:
                seen.add(current)
                todo.extend(ALLOWED[current])
    return cyclic


def test_floor_table_is_a_dag():
    assert floor_cycles() == []


def test_every_module_is_on_a_known_floor():
    names, _, _ = import_graph()
    assert {floor(name) for name in names} <= set(ALLOWED)


def test_no_edge_against_the_flow():
    _, edges, _ = import_graph()
    assert against_the_flow(edges) == []


def test_physics_imports_no_dask_tensorflow_or_jobqueue():
    _, _, external = import_graph()
    assert physics_importing_clusters(external) == []


def test_the_checker_sees_a_violation(tmp_path):
    """The rules above can fail: an observe -> campaign edge and a galaxy -> dask import are reported."""
    assert against_the_flow({("gcs_hpc.observe.x", "gcs_hpc.campaign.plan")})
    assert against_the_flow({("gcs_hpc.observe.x", "gcs_hpc.learn.data")})
    assert against_the_flow({("gcs_hpc.experiments.x", "gcs_hpc.campaign.__main__")})
    assert not against_the_flow({("gcs_hpc.observe.x", "gcs_hpc.learn.predict")})
    assert physics_importing_clusters({"gcs_hpc.galaxy.models": {"dask", "numpy"}}) == [
        ("gcs_hpc.galaxy.models", "dask")]


def report() -> str:
    """Module and edge counts, cross-floor edges and edges against the flow, as text."""
    names, edges, external = import_graph()
    cross = {(a, b) for a, b in edges if floor(a) != floor(b)}
    lines = [f"modules: {len(names)}", f"internal import edges: {len(edges)}",
             f"cross-floor edges: {len(cross)}"]
    bad = against_the_flow(edges)
    lines.append(f"edges against the flow: {len(bad)}")
    lines += [f"  {a} -> {b}  ({why})" for a, b, why in bad]
    physics = physics_importing_clusters(external)
    lines.append(f"physics modules importing dask/TF/jobqueue: {len(physics)}")
    lines += [f"  {a} imports {b}" for a, b in physics]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(report() + "\n")
