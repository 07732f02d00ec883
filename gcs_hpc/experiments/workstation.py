"""The workstation scale: ~2000 fully relaxed tiny-preset galaxies, a few hundred quick-preset twins, and
the studies that ask whether the CNN beats the classic estimators (issue 16).

    python -m gcs_hpc.experiments workstation campaign --runs runs   # hours; resumable, safe to stop
    python -m gcs_hpc.experiments workstation analyse --runs runs    # uses the models done so far
    python -m gcs_hpc.experiments workstation report --runs runs     # docs/results.md, written whole
    python -m gcs_hpc.experiments workstation all --runs runs        # the three in turn

Stores: ``<runs>/workstation/stores/disk-merger-unknown.zarr`` (the DL3/DL4/DL5/unknown campaign at the
``workstation`` scale of configs/experiments/, so ``python -m gcs_hpc.experiments run DL4 --scale
workstation`` reuses it for the paper's Tables 2 and 3) and ``disk-merger-unknown-quick.zarr`` (the same
config at the quick preset, :data:`QUICK_MODELS` models: the resolution check).

The analysis (:func:`analyse`) reads the done models of the disk and merger suites (as DL3-DL5) and runs:
the learning curve (:mod:`gcs_hpc.experiments.curves`) with the observation model off (the store's
maps) and on (``configs/observation/sluggs.yaml``), both targets, the classic estimators calibrated on
the same training galaxies; the paper's Tables 2 and 3 (both splits, 1 and 2 channels, observation model
off and on, the classic estimators on the same held-out images: :mod:`gcs_hpc.experiments.workstation_tables`)
with their own, usually smaller, ensembles; every SLUGGS galaxy through the observation-model ensembles
(:mod:`gcs_hpc.experiments.sluggs`); and the resolution check (:mod:`gcs_hpc.experiments.resolution`)
when the quick store has done twins. Everything goes to ``<runs>/workstation/analysis.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from gcs_hpc.errors import ConfigError, StoreError
from gcs_hpc.experiments.fit import FitConfig

SCALE = "workstation"
#: The experiment whose campaign the workstation store is (shared by DL3, DL4, DL5 and unknown).
EXPERIMENT = "DL4"
#: Models of the quick-preset twin store.
QUICK_MODELS = 200
#: Suites the studies train and test on (the unknown mergers stay out, as DL3-DL5).
SUITES = ("disk", "merger")
ANALYSIS_FILE = "analysis.json"
#: The observation model of the "observed" studies (the SLUGGS survey's figures, helper E's defaults), by
#: its shipped name: configs/observation/sluggs.yaml, package data found in any install (editable or not).
DEFAULT_OBSERVATION = "sluggs"
SESSIONS_FILE = "campaign_sessions.json"


def workstation_dir(runs: str | Path) -> Path:
    """``<runs>/workstation``."""
    return Path(runs) / SCALE


def specs() -> dict[str, Any]:
    """The tiny and quick experiment specs whose campaigns make the two stores."""
    from gcs_hpc.experiments.spec import load_experiment

    tiny = load_experiment(EXPERIMENT)
    sizes = dataclasses.replace(tiny.scale(SCALE), preset="quick", n_models=QUICK_MODELS)
    quick = dataclasses.replace(tiny, campaign=f"{tiny.campaign}-quick", scales={**tiny.scales, SCALE: sizes})
    return {"tiny": tiny, "quick": quick}


def store_of(runs: str | Path, preset: str) -> Path:
    """Path of the ``tiny`` or ``quick`` workstation store."""
    from gcs_hpc.experiments.campaigns import store_paths

    return store_paths(Path(runs), SCALE, specs()[preset].campaign)["store"]


def _record_session(runs: Path, entry: dict[str, Any]) -> None:
    path = workstation_dir(runs) / SESSIONS_FILE
    old = json.loads(path.read_text()) if path.is_file() else []
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(old + [entry], indent=1))


def done_count(store: Path) -> int:
    """Models done in ``store`` (0 when it does not exist)."""
    if not store.exists():
        return 0
    from gcs_hpc.learn.data import done_models, open_store

    return int(len(done_models(open_store(store))))


def run_campaigns(runs: str | Path, presets: Sequence[str] = ("tiny", "quick"),
                  log: Callable[[str], None] = print) -> None:
    """Run (or resume) the tiny, then the quick campaign; each session's start/end and done counts are
    appended to ``campaign_sessions.json`` (the report's compute figures)."""
    from gcs_hpc.experiments.campaigns import build_store

    runs = Path(runs)
    for preset in presets:
        spec = specs()[preset]
        store = store_of(runs, preset)
        entry = {"preset": preset, "store": str(store), "start_utc": time.time(),
                 "done_start": done_count(store),
                 "machine": machine(), "workers": spec.scale(SCALE).workers}
        try:
            build_store(spec, SCALE, runs, log)
        finally:  # also when stopped (Ctrl-C, time limit): the models done so far count
            entry.update({"end_utc": time.time(), "done_end": done_count(store)})
            if entry["done_end"] > entry["done_start"]:
                _record_session(runs, entry)


def machine() -> str:
    """One line naming this machine (CPU model, cores)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}"


def analyse(runs: str | Path, *, fit: FitConfig, sizes: Sequence[int], n_views: int = 4,
            train_views: int | None = None, observation: str | Path | None = None,
            data_dir: str | Path | None = None, max_models: int | None = None,
            table_fit: FitConfig | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The studies on the models done so far (module doc); writes and returns ``analysis.json``'s dict.

    ``observation``: YAML file or shipped name of the observation model (default
    :data:`DEFAULT_OBSERVATION`); ``data_dir``: the
    SLUGGS files (skipped when absent); ``table_fit``: the ensembles of the Tables 2/3 analogues (None:
    not run).
    """
    from gcs_hpc.experiments.curves import learning_curve, plot_curve
    from gcs_hpc.experiments.sample import load_sample, view_angles
    from gcs_hpc.maps.observation import load_observation

    runs = Path(runs)
    t_start = time.perf_counter()
    store = store_of(runs, "tiny")
    if not store.exists():
        raise StoreError(f"no workstation store at {str(store)!r}: run `python -m gcs_hpc.experiments "
                         f"workstation campaign --runs {runs}` first")
    obs = load_observation(observation or DEFAULT_OBSERVATION)
    sample = load_sample(store, suites=SUITES, max_models=max_models)
    figures = workstation_dir(runs) / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    from gcs_hpc.learn.data import open_store

    result: dict[str, Any] = {"store": str(store), "n_done": done_count(store), "n_used": len(sample),
                              "n_models": int(open_store(store).sizes["model"]),
                              "suites": list(SUITES), "by_suite": {s: int((sample.suite == s).sum())
                                                                   for s in SUITES},
                              "machine": machine(), "load_start": list(os.getloadavg()),
                              "observation": obs.name, "started_utc": time.time()}
    from gcs_hpc.experiments.galaxy_views import fraction_in_field
    from gcs_hpc.store import read_map_spec

    result["command"] = analyse_command(runs, fit, sizes, n_views, train_views, observation, data_dir,
                                        max_models, table_fit)
    result["options"] = {"fit": dataclasses.asdict(fit), "sizes": list(sizes), "n_views": n_views,
                         "train_views": train_views, "max_models": max_models,
                         "table_fit": None if table_fit is None else dataclasses.asdict(table_fit)}
    ds = open_store(store)
    from gcs_hpc.learn.data import done_models, string_coord

    suites, counts = np.unique(string_coord(ds, "suite")[done_models(ds)], return_counts=True)
    result["done_by_suite"] = {str(k): int(v) for k, v in zip(suites, counts)}
    result["n_done"] = int(counts.sum())  # read with the suites, at one moment of a running campaign
    if sample.phase_space is not None:
        some = np.arange(0, len(sample), max(1, len(sample) // 100))
        result["gc_fraction_in_field"] = {
            "ideal": fraction_in_field(sample, read_map_spec(store), some),
            "observed": fraction_in_field(sample, obs.map_spec(read_map_spec(store)), some)}
    curves = {}
    for setting, o in (("ideal", None), ("observed", obs)):
        t0 = time.perf_counter()
        c = learning_curve(sample, fit, observation=o, sizes=sizes, n_views=n_views, train_views=train_views,
                           keep_nets=True, log=log)
        c["wall_s"] = time.perf_counter() - t0
        plot_curve(c, figures / f"learning_curve_{setting}.png")
        curves[setting] = c
    result["curves"] = {k: {kk: vv for kk, vv in v.items() if kk != "_nets"} for k, v in curves.items()}
    fitted = {k: v["_nets"] for k, v in curves.items()}
    if table_fit is not None:
        from gcs_hpc.experiments.workstation_tables import paper_tables

        result["tables"] = {setting: paper_tables(sample, table_fit, o, log=log)
                            for setting, o in (("ideal", None), ("observed", obs))}
    ranges = {k: {t: tuple(r) for t, r in v["label_ranges"].items()} for k, v in curves.items()}
    data = Path(data_dir) if data_dir else None
    if data is not None and (data / "forbes2017_gc_velocities.tsv").is_file():
        from gcs_hpc.experiments.sluggs import plot_sluggs, run_sluggs
        from gcs_hpc.store import read_map_spec

        t0 = time.perf_counter()
        last = curves["observed"]["curves"].get("M_5r_half", [{}])[-1].get("classic", {})
        rows = run_sluggs(data / "forbes2017_gc_velocities.tsv", data / "forbes2017_galaxies.tsv",
                          fitted["observed"], ranges["observed"], fit, obs.map_spec(read_map_spec(store)),
                          offsets={k: v["offset"] for k, v in last.items()}, log=log)
        plot_sluggs(rows, figures / "sluggs.png")
        result["sluggs"] = {"rows": rows, "wall_s": time.perf_counter() - t0}
    else:
        result["sluggs"] = {"skipped": f"no SLUGGS files in {str(data)!r}"}
    quick = store_of(runs, "quick")
    n_quick = done_count(quick)
    if n_quick:
        from gcs_hpc.experiments.resolution import resolution_check

        try:
            result["resolution"] = resolution_check(sample, load_sample(quick, suites=SUITES),
                                                    fitted["ideal"], ranges["ideal"], fit,
                                                    view_angles(sample.maps.shape[1], n_views))
        except (ConfigError, StoreError) as exc:
            result["resolution"] = {"skipped": str(exc)}
    else:
        result["resolution"] = {"skipped": f"no done model in the quick store {str(quick)!r}"}
    sessions = workstation_dir(runs) / SESSIONS_FILE
    result["campaign_sessions"] = json.loads(sessions.read_text()) if sessions.is_file() else []
    result["analysis_wall_s"] = time.perf_counter() - t_start
    result["load_end"] = list(os.getloadavg())
    path = workstation_dir(runs) / ANALYSIS_FILE
    path.write_text(json.dumps(result, indent=1, default=_json_default))
    log(f"analysis: {path} ({result['analysis_wall_s'] / 60:.1f} min)")
    return result


def analyse_command(runs: Path, fit: FitConfig, sizes: Sequence[int], n_views: int, train_views: int | None,
                    observation: str | Path | None, data_dir: str | Path | None, max_models: int | None,
                    table_fit: FitConfig | None) -> str:
    """The ``workstation analyse`` command line that runs :func:`analyse` with these arguments."""
    parts = ["python -m gcs_hpc.experiments workstation analyse", f"--runs {runs}",
             f"--sizes {' '.join(map(str, sizes))}", f"--members {fit.members}", f"--steps {fit.steps}",
             f"--views {n_views}"]
    parts += [f"--train-views {train_views}"] if train_views else []
    parts += [f"--max-models {max_models}"] if max_models is not None else []
    parts += [f"--observation {observation}"] if observation else []
    parts += [f"--data {data_dir}"] if data_dir else []
    parts += (["--no-tables"] if table_fit is None else
              [f"--table-members {table_fit.members}", f"--table-steps {table_fit.steps}"])
    return " ".join(parts)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def main_stage(args: Any, log: Callable[[str], None] = print) -> None:
    """The ``workstation`` command of ``python -m gcs_hpc.experiments`` (module doc)."""
    from gcs_hpc.experiments.workstation_report import write_report

    if args.stage in ("campaign", "all"):
        run_campaigns(args.runs, ("tiny",) if args.no_quick else ("tiny", "quick"), log)
    if args.stage in ("analyse", "all"):
        fit = FitConfig(members=args.members, steps=args.steps)
        table_fit = None if args.no_tables else dataclasses.replace(
            fit, members=args.table_members or args.members, steps=args.table_steps or args.steps)
        analyse(args.runs, fit=fit, sizes=args.sizes, n_views=args.views, train_views=args.train_views,
                observation=args.observation, data_dir=args.data, max_models=args.max_models,
                table_fit=table_fit, log=log)
    if args.stage in ("report", "all"):
        log(f"report: {write_report(args.runs, args.out)}")
