"""The paper's experiments (Kaur et al. 2021, Tables 2 and 3 and the N_gc / smoothing study), run end to
end with this toolkit, and the results report.

Modules
-------
spec
    :class:`ExperimentSpec` (configs/experiments/*.yaml): campaign suites and maps, net, channels, splits,
    noise, and the scales it runs at, whose sizes configs/experiments/scales.yaml defines once.
campaigns
    Build or reuse an experiment's campaign store (gcs_hpc.campaign).
evaluation
    Clean and noisy-map evaluation of trained nets (gcs_hpc.learn.evaluate).
runner
    ``run(names, scale)``: campaign -> training -> evaluation -> classic estimators -> result.json.
report
    ``docs/results.md`` with the paper's values side by side, figures, and answers with numbers.
"""
