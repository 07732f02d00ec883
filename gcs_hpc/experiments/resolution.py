"""Does the answer depend on the resolution? The same galaxies at the ``tiny`` and ``quick`` presets.

The quick store is the workstation campaign config at the quick preset with fewer models; its Sobol
draws are the first ones of each suite, so each of its galaxies has a twin in the tiny store with the
same parameters (matched on suite and M_total, equal to 1e-9 dex; the N-body realisation differs, as it
must at another particle number). On the matched galaxies, along the same stored angles:

- the CNN trained on tiny maps predicts from the tiny maps and from the quick maps: the change of its
  bias and scatter is what the resolution does to the CNN's answer;
- the classic estimators run on both (every GC; for M(<5 R_half) those inside 5 R_half);
- the true M(<5 R_half) of the twins differs by the resolution's effect on the stellar half-mass radius
  (M_total is the same by construction).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from gcs_hpc.errors import ConfigError
from gcs_hpc.experiments.curves import error_stats
from gcs_hpc.experiments.fit import FitConfig, predict_ensemble
from gcs_hpc.experiments.galaxy_views import stored_views
from gcs_hpc.experiments.sample import Sample

#: Twins' log10 M_total must agree to this (dex).
MATCH_TOL_DEX = 1.0e-9


def _change(quick: dict[str, float], tiny: dict[str, float]) -> dict[str, float]:
    return {k: quick[k] - tiny[k] for k in ("bias", "scatter")}


def match_twins(tiny: Sample, quick: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Rows (tiny, quick) of galaxies with the same suite and M_total."""
    lookup: dict[tuple[str, float], int] = {}
    for i, (s, m) in enumerate(zip(tiny.suite, tiny.log_mass["M_total"])):
        lookup[(str(s), round(float(m), 9))] = i
    pairs = [(lookup[(str(s), round(float(m), 9))], j)
             for j, (s, m) in enumerate(zip(quick.suite, quick.log_mass["M_total"]))
             if (str(s), round(float(m), 9)) in lookup]
    if not pairs:
        raise ConfigError(f"resolution: no galaxy of {quick.store!r} has a twin in {tiny.store!r} (same "
                          "suite "
                          "and M_total); the two stores must come from one campaign config at two presets")
    t, q = (np.array(v, dtype=np.int64) for v in zip(*pairs))
    if not np.allclose(tiny.log_mass["M_total"][t], quick.log_mass["M_total"][q], atol=MATCH_TOL_DEX, rtol=0):
        raise ConfigError("resolution: matched twins differ in M_total")
    return t, q


def resolution_check(tiny: Sample, quick: Sample, nets: dict[str, list[Any]],
                     label_ranges: dict[str, Sequence[float]], fit: FitConfig, angles: Sequence[int]
                     ) -> dict[str, Any]:
    """Bias and scatter (dex) per target of the CNN (tiny-trained) and the classic estimators on the twins'
    tiny and quick views, and their differences (quick minus tiny); see the module doc."""
    t_rows, q_rows = match_twins(tiny, quick)
    targets = [t for t in nets if t in quick.log_mass]
    with_classic = tuple(targets) if tiny.phase_space is not None and quick.phase_space is not None else ()
    views = {"tiny": stored_views(tiny, t_rows, angles, with_classic),
             "quick": stored_views(quick, q_rows, angles, with_classic)}
    truths = {"tiny": tiny, "quick": quick}
    rows = {"tiny": t_rows, "quick": q_rows}
    out: dict[str, Any] = {"n_twins": int(len(t_rows)), "views": list(map(int, angles)), "targets": {}}
    for target in targets:
        entry: dict[str, Any] = {}
        for preset, v in views.items():
            truth = np.repeat(truths[preset].log_mass[target][rows[preset]], len(angles))
            pred = predict_ensemble(nets[target], v.flat_images(), tuple(label_ranges[target]), fit)
            entry[preset] = {"cnn": error_stats(pred.median() - truth),
                             "classic": {name: error_stats(est.reshape(-1) - truth)
                                         for name, est in v.classic.get(target, {}).items()}}
        quick_c, tiny_c = entry["quick"]["classic"], entry["tiny"]["classic"]
        entry["delta"] = {"cnn": _change(entry["quick"]["cnn"], entry["tiny"]["cnn"]),
                          "classic": {name: _change(quick_c[name], tiny_c[name]) for name in tiny_c}}
        diff = quick.log_mass[target][q_rows] - tiny.log_mass[target][t_rows]
        entry["truth_quick_minus_tiny"] = error_stats(diff)
        out["targets"][target] = entry
    return out
