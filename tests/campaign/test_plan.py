"""Campaign plan: quasi-random samples inside the ranges, reproducible seeds, store layout."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import qmc

from gcs_hpc.campaign.config import DEFAULT_CONFIG, config_from_mapping
from gcs_hpc.campaign.plan import model_seed, plan_campaign, sample_suite, store_region, unit_samples


def test_plan_is_reproducible_and_seed_dependent():
    a = plan_campaign(DEFAULT_CONFIG, 50)
    b = plan_campaign(DEFAULT_CONFIG, 50)
    c = plan_campaign(config_from_mapping({"seed": 7}), 50)
    assert a.models == b.models
    assert a.config_yaml == b.config_yaml
    assert a.models[0].galaxy != c.models[0].galaxy
    assert a.models[0].seed != c.models[0].seed


def test_models_lie_in_their_suite_ranges_and_layout_follows_the_config():
    plan = plan_campaign(DEFAULT_CONFIG, 200)
    blocks = plan.suite_indices()
    assert [len(r) for r in blocks.values()] == [100, 80, 20]
    for suite in DEFAULT_CONFIG.suites:
        for i in blocks[suite.name]:
            spec = plan.models[i]
            assert spec.suite == suite.name and spec.kind == suite.kind
            for name, (lo, hi) in suite.intervals().items():
                merger_parameter = name in ("m2", "f_v", "theta_1", "theta_2", "separation")
                obj = spec.merger if merger_parameter else spec.galaxy
                assert lo <= getattr(obj, name) <= hi, (name, i)
    unknown = [plan.models[i].merger.m2 for i in blocks["unknown"]]
    merger = [plan.models[i].merger.m2 for i in blocks["merger"]]
    assert max(unknown) <= min(merger)


def test_seeds_are_distinct_per_model_and_independent_of_campaign_size():
    seeds = [model_seed(2021, i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert all(0 <= s < 2**63 for s in seeds)
    plan = plan_campaign(DEFAULT_CONFIG, 10)
    assert [m.seed for m in plan.models] == seeds[:10]


def test_samples_are_low_discrepancy_and_laws_are_right():
    rng = np.random.default_rng(0)
    u = unit_samples(256, 3, "sobol", rng)
    random = rng.random((256, 3))
    assert qmc.discrepancy(u) < 0.5 * qmc.discrepancy(random)
    suite = DEFAULT_CONFIG.suites[1]
    rows = sample_suite(suite, 512, "sobol", 3)
    log_m = np.log10([r["M_halo"] for r in rows])
    # log-uniform: mean of log10 M in the middle of [11, 13]; uniform in cos(theta): mean cos ~ 0
    assert abs(log_m.mean() - 12.0) < 0.02
    assert abs(np.mean(np.cos(np.radians([r["theta_1"] for r in rows])))) < 0.02
    halton = sample_suite(suite, 64, "halton", 3)
    assert all(suite.m2[0] <= r["m2"] <= suite.m2[1] for r in halton)


def test_fixed_ranges_and_fixed_concentration():
    config = config_from_mapping({"suites": {"disk": {"fraction": 1, "f_b": [0.17, 0.17], "c": [8, 12]}}})
    plan = plan_campaign(config, 8)
    assert {m.galaxy.f_b for m in plan.models} == {0.17}
    assert all(8 <= m.galaxy.c <= 12 for m in plan.models)


def test_submission_order_interleaves_suites_and_covers_each_index_once():
    plan = plan_campaign(DEFAULT_CONFIG, 20)
    order = plan.submission_order()
    assert sorted(order) == list(range(20))
    first_half = order[:10]
    kinds = {plan.models[i].suite for i in first_half}
    assert kinds == {"disk", "merger", "unknown"}
    assert plan.submission_order([5, 1, 19]) == sorted([5, 1, 19], key=order.index)
    assert store_region(7) == {"model": slice(7, 8)}


def test_plan_needs_a_model_count():
    import pytest

    from gcs_hpc.errors import ConfigError

    with pytest.raises(ConfigError, match="--n-models"):
        plan_campaign(DEFAULT_CONFIG)
    assert math.isclose(plan_campaign(config_from_mapping({"n_models": 4})).n_models, 4)
