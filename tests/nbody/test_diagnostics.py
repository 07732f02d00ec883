"""Run diagnostics checked against hand-made cases."""

from __future__ import annotations

import numpy as np


def test_first_meeting_is_the_first_sample_closer_than_the_distance() -> None:
    from gcs_hpc.nbody.diagnostics import first_meeting

    # two centres approaching at unit speed from 10 apart, sampled every 0.5
    diags = [{"t": t, "galaxy_centres": {"0": [0.0, 0.0, 0.0], "1": [10.0 - t, 0.0, 0.0]}}
             for t in np.arange(0.0, 12.0, 0.5)]
    assert first_meeting(diags, 2.0) == 8.5          # gap 1.5 < 2 first at t = 8.5 (8.0 gives exactly 2)
    assert first_meeting(diags[:10], 2.0) is None    # they never got that close
    assert first_meeting([{"t": 0.0, "galaxy_centres": {"0": [0, 0, 0]}}], 2.0) is None  # one galaxy
