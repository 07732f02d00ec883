"""``python -m gcs_hpc.experiments`` creates its outputs with the owner-only umask of the other CLIs
(gcs_hpc.fileperm, ``--umask``), refuses a world-writable one before running, and restores the caller's
umask (issue 12, probe 10)."""

from __future__ import annotations

import os
import stat

import pytest

from gcs_hpc.experiments.__main__ import EXIT_BAD_INPUT, EXIT_OK, main

PROBE = ["probe", "--preset", "tiny", "--t-probe", "0.001", "--backend", "direct"]


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("option, folder_mode, file_mode", [([], 0o700, 0o600),
                                                            (["--umask", "027"], 0o750, 0o640)])
def test_outputs_follow_the_umask_option_whatever_the_callers(tmp_path, capsys, option, folder_mode,
                                                               file_mode):
    runs = tmp_path / "runs"
    caller = os.umask(0o022)   # a typical login umask: group and world could read
    try:
        assert main([*PROBE, "--runs", str(runs), *option]) == EXIT_OK
        assert os.umask(0o022) == 0o022    # the CLI restores the caller's umask
    finally:
        os.umask(caller)
    (result,) = runs.iterdir()
    assert _mode(runs) == folder_mode and _mode(result) == file_mode
    assert '"preset": "tiny"' in capsys.readouterr().out


def test_world_writable_umask_is_refused_before_anything_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main([*PROBE, "--runs", str(runs), "--umask", "020"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--umask = '020' leaves files the experiments CLI creates world-writable" in err
    assert not runs.exists()
