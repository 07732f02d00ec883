"""Every command-line interface explains itself: each option has help text that shows its default (or is a
flag, or required), --help has no RST markup, and TensorFlow's start-up INFO lines stay off the terminal
unless asked for."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys

import pytest

CLIS = ("gcs_hpc.galaxy", "gcs_hpc.nbody", "gcs_hpc.campaign", "gcs_hpc.learn.train", "gcs_hpc.learn.evaluate",
        "gcs_hpc.observe", "gcs_hpc.experiments")
TF_STARTUP_LINES = ("oneDNN custom operations", "cpu_feature_guard", "absl::InitializeLog")


def _parser(module: str) -> argparse.ArgumentParser:
    try:
        mod = importlib.import_module(f"{module}.__main__")
    except ModuleNotFoundError:
        mod = importlib.import_module(module)
    return mod.build_parser()


def _with_subcommands(parser: argparse.ArgumentParser, name: str):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _with_subcommands(sub, f"{name} {sub_name}")


@pytest.mark.parametrize("module", CLIS)
def test_every_option_has_help_with_its_default(module):
    problems = []
    for name, parser in _with_subcommands(_parser(module), module):
        text = parser.format_help()
        if "``" in text or ":func:`" in text or ":class:`" in text:
            problems.append(f"{name}: RST markup in --help")
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            option = "/".join(action.option_strings)
            if not action.help:
                problems.append(f"{name} {option}: no help text")
            elif action.nargs != 0 and not action.required and \
                    "default" not in parser._get_formatter()._expand_help(action).lower():
                problems.append(f"{name} {option}: help does not show the default")
    assert problems == []


@pytest.mark.parametrize("module", ["gcs_hpc.nbody", "gcs_hpc.learn.train"])
def test_help_runs_as_a_command(module, tmp_path):
    proc = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "(default" in proc.stdout and "``" not in proc.stdout
    assert not any(line in proc.stderr for line in TF_STARTUP_LINES), proc.stderr


def _import_tensorflow(tmp_path, **env) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"} | env
    code = "from gcs_hpc.learn import require_tensorflow; tf = require_tensorflow(); print(tf.constant(2.0) * 2)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environ, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "4.0" in proc.stdout
    return proc.stderr


def test_tensorflow_start_up_lines_are_silenced_by_default(tmp_path):
    stderr = _import_tensorflow(tmp_path)
    assert not any(line in stderr for line in TF_STARTUP_LINES), stderr


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the oneDNN/CPU-feature lines are x86 builds'")
def test_tensorflow_start_up_lines_come_back_when_asked(tmp_path):
    stderr = _import_tensorflow(tmp_path, TF_CPP_MIN_LOG_LEVEL="0")
    assert any(line in stderr for line in TF_STARTUP_LINES), stderr


def test_nbody_prints_progress_and_the_same_result_as_one_piece(tmp_path):
    """Progress lines come from running in pieces through a checkpoint: the result is that of one run."""
    common = [sys.executable, "-m", "gcs_hpc.nbody", "--preset", "tiny", "--t-end", "0.3", "--backend",
              "compiled"]
    whole = subprocess.run([*common, "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    pieces = subprocess.run([*common, "--progress-every", "0.01"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert whole.returncode == 0 and pieces.returncode == 0, whole.stderr + pieces.stderr
    assert "nbody: t = " not in whole.stderr
    progress = [line for line in pieces.stderr.splitlines() if line.startswith("nbody: t = ")]
    assert progress and "steps" in progress[0]  # the first piece is one step: always a line
    report = json.loads(whole.stdout)
    text = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in pieces.stdout.splitlines())}
    assert int(text["steps"]) == report["steps"] > 1
    assert float(text["max_rel_energy_error"]) == report["max_rel_energy_error"]
    assert json.loads(text["final_centre_kpc"]) == report["final_centre_kpc"]
    assert sorted(tmp_path.iterdir()) == []  # the checkpoint went to a temporary folder, now removed
