"""Compute: what the runs cost here, measured, and what the paper scale needs.

Measured: per-model wall times of every campaign (the farm's own timings, ``<campaign>.timing.json``),
training throughput (images/s per net) and the comparison's re-runs. Projected: the paper scale's
models, images and epochs from each experiment file, with the per-model cost of the paper preset taken
from a probe (``python -m gcs_hpc.experiments probe``: builds one paper-preset model and times a few
N-body steps with the step length the integrator chooses) when one was run, else scaled from the laptop
preset (N log N per tree step, steps from t_end and the softening), said as such.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

PROBE_FILE = "paper_preset_probe.json"


def probe_model_cost(preset: str = "paper", kind: str = "disk", t_probe: float = 0.03,
                     backend: str = "tree") -> dict[str, Any]:
    """Build one ``kind`` model of ``preset`` and evolve it for ``t_probe``; return build and per-step
    seconds and the step length, from which a full run's cost follows (steps = t_end / dt)."""
    from gcs_hpc.nbody.simulate import STAGE_BUILT, simulate
    from gcs_hpc.specs import GalaxySpec, MergerSpec, ModelSpec, get_preset

    warm = ModelSpec(kind="disk", galaxy=GalaxySpec(), preset=get_preset("tiny"), seed=1)
    simulate(warm, backend, t_end=0.05, energy_tolerance=1.0, model_name="warm-up")  # compile, untimed
    p = get_preset(preset)
    spec = ModelSpec(kind=kind, galaxy=GalaxySpec(), preset=p, seed=1,
                     merger=MergerSpec() if kind == "merger" else None)
    seconds: dict[str, float] = {}
    result = simulate(spec, backend, t_end=t_probe, energy_tolerance=1.0, model_name="probe",
                      on_stage=seconds.__setitem__)
    build_s = seconds[STAGE_BUILT]
    stats = result.stats
    steps = max(1, int(stats["steps"]))
    dt = float(stats.get("dt") or t_probe / steps)
    step_s = float(stats["wall_s"]) / steps
    full_steps = spec.t_end / dt
    return {"preset": preset, "kind": kind, "backend": stats["backend"], "n_particles": int(stats["n"]),
            "build_s": build_s, "probe_steps": steps, "dt": dt, "step_s": step_s, "t_end": spec.t_end,
            "full_run_steps": full_steps, "model_s": build_s + full_steps * step_s}


def _timings(runs: Path, scale: str) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((Path(runs) / scale / "stores").glob("*.timing.json")):
        data = json.loads(path.read_text())
        secs: dict[str, list[float]] = {}
        parts: dict[str, list[int]] = {}
        for run in data["runs"]:
            for k, s in run["model_seconds"].items():
                secs.setdefault(run["kinds"][k], []).append(s)
                parts.setdefault(run["kinds"][k], []).append(run["n_particles"][k])
        out[path.name.replace(".timing.json", "")] = {
            "wall_s": sum(r["wall_s"] for r in data["runs"]), "workers": data["runs"][-1]["workers"],
            "kinds": {k: {"n": len(v), "mean_s": float(np.mean(v)), "median_s": float(np.median(v)),
                          "particles": float(np.mean(parts[k]))} for k, v in secs.items()}}
    return out


def compute_section(results: dict[str, dict[str, Any]], runs: Path, scale: str) -> list[str]:
    """Markdown lines of the report's compute section."""
    timings = _timings(runs, scale)
    lines = [f"Measured on this machine (2 cores shared with other work at the same time, so wall times "
             f"are noisy and pessimistic), scale {scale}:", "",
             "| store | models | campaign wall (s) | workers | per model, by kind: n, mean s, median s, "
             "particles |",
             "|---|---|---|---|---|"]
    for name, t in timings.items():
        kinds = "; ".join(f"{k}: {v['n']}, {v['mean_s']:.2f}, {v['median_s']:.2f}, {v['particles']:,.0f}"
                          for k, v in t["kinds"].items())
        lines.append(f"| {name} | {sum(v['n'] for v in t['kinds'].values())} | {t['wall_s']:.0f} | "
                     f"{t['workers']} | {kinds} |")
    train: dict[str, list] = {}
    shared = 0
    for r in results.values():
        for n in r["nets"]:
            t = n["train"]
            train.setdefault(r["net"], []).append((t["wall_s"], t["images_per_s"], t["epochs"],
                                                   t.get("single_writer", True)))
            shared += not t.get("single_writer", True)
    for net, v in train.items():  # throughput from nets one process trained alone, where there are any
        alone = [x for x in v if x[3]]
        train[net] = alone or v
    lines += ["", "Training (CPU, TensorFlow): " + "; ".join(
        f"{net}: {len(v)} nets, {np.mean([x[0] for x in v]):.0f} s each on average, "
        f"{np.mean([x[1] for x in v]):.0f} images/s" + ("" if all(x[3] for x in v) else
                                                        " (measured while two processes trained it)")
        for net, v in train.items()) + "."]
    if shared:
        lines += ["", f"{shared} nets were trained by two processes at once (a duplicate run, started by "
                  "mistake, resumed from the same checkpoints): each is still one chain of checkpoints to "
                  "the full epoch count and is evaluated from its saved weights, but its wall time is "
                  "inflated; throughput above comes from nets trained by one process where any exist."]
    compare_s = 0.0
    for path in (Path(runs) / scale / "compare").glob("*.json"):
        compare_s += float(json.loads(path.read_text()).get("wall_s") or 0.0)
    campaign_s = sum(t["wall_s"] for t in timings.values())
    train_s = sum(n["train"]["wall_s"] for r in results.values() for n in r["nets"])
    lines += ["", f"Measured wall time summed over the stages (each done once; later runs reuse them): "
              f"campaigns {campaign_s / 60:.1f} min, training {train_s / 60:.1f} min (inflated where two "
              f"processes trained one net), classic-estimator comparisons {compare_s / 60:.1f} min."]
    lines += ["", *paper_projection(results, runs, scale, timings, train)]
    return lines


def paper_projection(results: dict[str, dict[str, Any]], runs: Path, scale: str,
                     timings: dict[str, dict[str, Any]], train: dict[str, list]) -> list[str]:
    """The paper scale's needs from the measured figures (see module doc)."""
    from gcs_hpc.experiments.spec import check_shared_stores, load_experiments
    from gcs_hpc.specs import get_preset

    specs = [s for s in load_experiments("all") if s.name in results]
    probe_path = Path(runs) / PROBE_FILE
    probe = json.loads(probe_path.read_text()) if probe_path.is_file() else None
    paper = get_preset("paper")
    groups = check_shared_stores(specs, "paper")
    n_models = {c: g[0].scale("paper").n_models for c, g in groups.items()}
    total_models = sum(n_models.values())
    lines = [f"**Paper scale** (the `paper` entries of configs/experiments/: {len(groups)} distinct stores, "
             f"{total_models:,} models of the paper preset, {paper.n_halo + paper.n_disk:,} particles per "
             f"galaxy, 100 angles, 1000 epochs):", ""]
    if probe:
        per = {p["kind"]: p for p in (probe if isinstance(probe, list) else [probe])}
        for kind, p in per.items():
            lines.append(f"- Probe, {kind} model of the paper preset on this CPU ({p['backend']} backend, "
                         f"{p['n_particles']:,} particles): build {p['build_s']:.0f} s, {p['step_s']:.1f} s "
                         "per "
                         f"step, dt {p['dt']:.4f} units, so {p['full_run_steps']:,.0f} steps to t_end "
                         f"{p['t_end']:g}: {p['model_s'] / 3600:.1f} CPU-core hours per model (one worker).")
        disk_s = per.get("disk", {}).get("model_s")
        merger_s = per.get("merger", {}).get("model_s") or (disk_s * 2 * paper.t_end_merger / paper.t_end_disk
                                                             if disk_s else None)
        if disk_s:
            frac_merger = _merger_fraction(specs, groups)
            mean_s = (1 - frac_merger) * disk_s + frac_merger * merger_s
            lines.append(f"- All paper-scale campaigns: {total_models:,} models x {mean_s / 3600:.1f} h "
                         f"(mergers {100 * frac_merger:.0f} %"
                         + ("" if "merger" in per else ", costed as two galaxies for t_end_merger") +
                         f") = {total_models * mean_s / 3600:,.0f} worker-hours of this CPU backend. "
                         "No GPU was lent to this task, so the CUDA backend's per-model time is not measured "
                         "here; divide by the measured GPU/CPU speed-up of gcs_hpc.nbody before booking "
                         "GPUs.")
    else:
        lines.append("- No paper-preset probe in this runs folder (`python -m gcs_hpc.experiments probe`); "
                     "projection from the laptop timings below.")
        for name, t in timings.items():
            for kind, v in t["kinds"].items():
                z = next(g[0].scale(scale) for c, g in check_shared_stores(specs, scale).items() if c == name)
                n_lap = v["particles"]
                n_pap = (paper.n_halo + paper.n_disk) * (2 if kind == "merger" else 1)
                t_lap = (z.preset_overrides or {}).get(f"t_end_{kind}", 1.0)
                t_pap = paper.t_end_merger if kind == "merger" else paper.t_end_disk
                from gcs_hpc.specs import get_preset as gp
                eps = math.sqrt(gp(z.preset).softening_kpc / paper.softening_kpc)
                scale_f = (n_pap * math.log(n_pap)) / (n_lap * math.log(n_lap)) * (t_pap / t_lap) * eps
                lines.append(f"- {name} {kind}: {v['mean_s']:.2f} s measured x {scale_f:,.0f} (N log N, "
                             f"t_end, dt ~ sqrt(softening)) = {v['mean_s'] * scale_f / 3600:.1f} h per model "
                             "(extrapolated, not measured)")
    ips = {net: float(np.mean([x[1] for x in v])) for net, v in train.items()}
    hours, n_nets = 0.0, 0
    for s in specs:
        z = s.scale("paper")
        if s.net not in ips:
            continue
        per_net = 0.8 * z.n_models * z.n_angles * z.epochs / ips[s.net] / 3600
        hours += per_net * len(s.splits) * len(s.channels)
        n_nets += len(s.splits) * len(s.channels)
    if n_nets:
        lines.append(f"- Training at the paper scale: {n_nets} nets, 80 % of each store's images x 1000 "
                     "epochs at "
                     f"this CPU's measured images/s ({', '.join(f'{k} {v:.0f}' for k, v in ips.items())}): "
                     f"{hours:,.0f} CPU hours in all (a GPU is typically one to two orders of magnitude "
                     "faster "
                     "for these small convolutional nets; not measured here).")
    return lines


def _merger_fraction(specs: list[Any], groups: dict[str, list[Any]]) -> float:
    total = merger = 0
    for g in groups.values():
        cfg = g[0].campaign_config("paper")
        counts = cfg.suite_counts(g[0].scale("paper").n_models)
        for suite in cfg.suites:
            total += counts[suite.name]
            merger += counts[suite.name] if suite.kind == "merger" else 0
    return merger / total if total else 0.0
