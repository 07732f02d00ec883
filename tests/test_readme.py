"""The README's code runs: every python block is executed against a real store, every bash block parses, and
every ``python -m`` / ``sbatch jobs/...`` / ``pip install`` command in it names options the CLIs have."""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gcs_hpc.config import dump_yaml
from gcs_hpc.specs import MapSpec
from gcs_hpc.store import create_store, mark_failed, write_model
from tests.store.helpers import fake_model_maps, small_models

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
_BLOCK = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>\w*)[ \t]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
#: Job scripts and the CLI their arguments go to.
JOB_CLIS = {"jobs/campaign.sh": "gcs_hpc.campaign", "jobs/train.sh": "gcs_hpc.learn.train"}
TEST_COMMAND = 'pip install -e ".[test]" && python -m pytest'
PYPROJECT_EXTRAS = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def blocks(lang: str) -> list[str]:
    """The README's fenced ``lang`` blocks, dedented (blocks inside list items are indented)."""
    return [textwrap.dedent(m["indent"] + m["body"].replace("\n" + m["indent"], "\n"))
            for m in _BLOCK.finditer(README) if m["lang"] == lang]


def commands(block: str) -> list[list[str]]:
    """Simple commands of a bash block (comments dropped, ``&&`` lists split), as argument lists."""
    found = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        command: list[str] = []
        for word in words + ["&&"]:
            if word == "&&":
                if command:
                    found.append(command)
                command = []
            else:
                command.append(word)
    return found


def parser_of(module: str):
    """The argparse parser of a ``python -m`` module (its ``build_parser``)."""
    try:
        mod = importlib.import_module(f"{module}.__main__")
    except ModuleNotFoundError:
        mod = importlib.import_module(module)
    assert hasattr(mod, "build_parser"), f"{module} has no build_parser(): its README options cannot be checked"
    return mod.build_parser()


def check_cli(module: str, args: list[str]) -> None:
    try:
        parser_of(module).parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"README: python -m {module} {' '.join(args)} does not parse (exit {exc.code})")
    for arg in args:  # repository files the commands name exist
        if arg.startswith(("configs/", "jobs/")):
            assert (REPO / arg).is_file(), f"README names {arg}, which does not exist"


def test_readme_has_the_blocks_this_test_checks():
    assert len(blocks("python")) >= 1 and len(blocks("bash")) >= 3


@pytest.mark.parametrize("index", range(len(blocks("bash"))))
def test_bash_blocks_parse_and_their_commands_exist(index):
    block = blocks("bash")[index]
    syntax = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    for command in commands(block):
        name, args = command[0], command[1:]
        if name in ("python", "python3") and args[:1] == ["-m"] and args[1] not in ("venv", "pytest"):
            check_cli(args[1], args[2:])
        elif name == "sbatch":
            script = next(a for a in args if not a.startswith("-"))
            assert script in JOB_CLIS, f"README submits {script}, which has no known CLI"
            assert (REPO / script).is_file()
            check_cli(JOB_CLIS[script], args[args.index(script) + 1:])
        elif name == "pip":
            extras = PYPROJECT_EXTRAS | {""}
            for target in (a for a in args if a.startswith(".")):
                wanted = re.fullmatch(r"\.(?:\[(\w+)\])?", target)
                assert wanted and (wanted[1] or "") in extras, f"README installs {target}: no such extra"
        else:
            assert name in ("python", "python3", "source", "ssh"), f"README command {name!r} not checked"


def test_ci_runs_the_readme_test_command_verbatim():
    assert TEST_COMMAND in blocks("bash")[1], "the README's test command changed: update .ci/run and here"
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert TEST_COMMAND in ci_lines


@pytest.fixture
def demo_store(tmp_path, monkeypatch) -> tuple[Path, list[int]]:
    """A real zarr store named like the README's (demo.zarr) in the working folder: three models done,
    one failed, one pending."""
    spec = MapSpec(n_angles=4, npix=10)
    path = tmp_path / "demo.zarr"
    create_store(path, small_models(), spec, dump_yaml({"campaign": {"name": "readme", "preset": "tiny"}}))
    done = [0, 2, 4]
    for i in done:
        write_model(path, i, *fake_model_maps(i, spec))
    mark_failed(path, 1, "a failure the README's selection must leave out")
    monkeypatch.chdir(tmp_path)
    return path, done


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_blocks_run(index, demo_store):
    path, done = demo_store
    namespace: dict = {}
    exec(compile(blocks("python")[index], f"README.md python block {index}", "exec"), namespace)
    if "sigma" in namespace:  # the cube block: sigma maps of the done models only
        sigma = namespace["sigma"]
        expected = xr.open_zarr(path).maps.sel(channel="sigma").values[done]
        assert list(sigma.model.values) == done
        np.testing.assert_array_equal(sigma.values, expected)


def test_main_job_command_names_the_demo_config_and_parses():
    main_job = blocks("bash")[0]
    modules = [c[2] for c in commands(main_job) if c[:2] == ["python", "-m"]]
    assert modules == ["gcs_hpc.campaign", "gcs_hpc.learn.train", "gcs_hpc.learn.evaluate"]
