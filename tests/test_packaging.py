"""What a fresh machine needs: declared dependencies, configs shipped as package data, a wheel that works
outside the repository, and a campaign that says before it starts when this machine cannot run its cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gcs_hpc.shipped import KINDS, shipped_config_dir

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_every_package_folder_is_listed_in_pyproject():
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "gcs_hpc").rglob("__init__.py")}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert found - listed == set(), "packages missing from [tool.setuptools] packages in pyproject.toml"
    assert listed - found == {"gcs_hpc.configs"}
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"gcs_hpc.configs": "configs"}


def test_runtime_imports_are_declared():
    """Third-party modules the package imports directly are in [project] dependencies (by distribution)."""
    declared = " ".join(PYPROJECT["project"]["dependencies"]).lower()
    for distribution in ("numpy", "scipy", "pyyaml", "numba", "xarray", "zarr", "dask", "dask-jobqueue",
                         "tensorflow", "matplotlib", "tqdm", "bokeh", "cryptography", "psutil"):
        assert distribution in declared, f"{distribution} is imported at run time but not declared"


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_configs_are_the_top_level_configs_folder(kind):
    folder = shipped_config_dir(kind)
    assert folder.is_dir() and sorted(folder.glob("*.yaml"))
    # editable install (this test run): the files exist once, in the repository's configs/
    assert folder.resolve() == (REPO / "configs" / kind).resolve()


def test_no_module_finds_files_relative_to_its_own_source():
    """Shipped files are found through gcs_hpc.shipped (importlib.resources), never from ``__file__``
    (``Path(__file__).parents[2] / "configs"`` is the repository, absent from a wheel install)."""
    import ast

    offenders = [str(path.relative_to(REPO)) for path in sorted((REPO / "gcs_hpc").rglob("*.py"))
                 if any(isinstance(node, ast.Name) and node.id == "__file__"
                        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))))]
    assert offenders == [], "use gcs_hpc.shipped.shipped_config_dir (or a shipped name) instead of __file__"


def test_unknown_config_kind_is_refused():
    with pytest.raises(ValueError, match="allowed: cluster, experiments, models"):
        shipped_config_dir("clusters")


def test_slurm_campaign_without_sbatch_is_refused_before_anything_is_made(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # no sbatch on this PATH
    store = tmp_path / "run.zarr"
    for extra in (["--dry-run"], []):
        proc = _run(["-m", "gcs_hpc.campaign", "--cluster", "slurm", "--n-models", "2", "--store", str(store),
                     "--log-dir", str(tmp_path / "logs"), *extra], cwd=tmp_path, env=env)
        assert proc.returncode == 2, proc.stderr
        assert "sbatch, which is not on PATH" in proc.stderr and "Traceback" not in proc.stderr
        assert not store.exists() and not (tmp_path / "logs").exists()


def test_tls_without_cryptography_is_refused_before_anything_is_made(tmp_path):
    cluster = tmp_path / "tls.yaml"
    cluster.write_text("kind: local\nsecurity: true\nworkers: 1\n")
    store = tmp_path / "run.zarr"
    # cryptography made unimportable in this process, as in a venv that lacks it
    code = ("import sys; sys.modules['cryptography'] = None; from gcs_hpc.campaign.__main__ import main; "
            f"sys.exit(main(['--cluster', {str(cluster)!r}, '--n-models', '2', '--store', {str(store)!r}]))")
    proc = _run(["-c", code], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "'cryptography' package" in proc.stderr and "security: false" in proc.stderr
    assert "Traceback" not in proc.stderr and not store.exists()


def test_tls_dry_run_passes_where_cryptography_is_installed(tmp_path):
    cluster = tmp_path / "tls.yaml"
    cluster.write_text("kind: local\nsecurity: true\nworkers: 1\n")
    proc = _run(["-m", "gcs_hpc.campaign", "--cluster", str(cluster), "--n-models", "2", "--dry-run",
                 "--store", str(tmp_path / "run.zarr")], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "dry run: nothing submitted" in proc.stdout and not (tmp_path / "run.zarr").exists()


@pytest.mark.slow
def test_wheel_installed_outside_the_repo_finds_its_configs(tmp_path):
    """A wheel (not an editable install) run from another folder finds the shipped cluster and
    experiment files inside the installed package."""
    source, wheels = tmp_path / "source", tmp_path / "wheels"
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    # built from a copy: setuptools writes build/ and *.egg-info into the folder it builds
    for name in ("gcs_hpc", "configs"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy2(REPO / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                            str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("gcs_hpc-*.whl")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    # the wheel's gcs_hpc comes first on the path (before this test run's editable install)
    env = dict(os.environ, PYTHONPATH=str(site))
    where = _run(["-c", "import gcs_hpc; from gcs_hpc.campaign.cluster import CONFIG_DIR; "
                  "from gcs_hpc.experiments.spec import EXPERIMENT_DIR; "
                  "print(gcs_hpc.__file__); print(CONFIG_DIR); print(EXPERIMENT_DIR)"], cwd=elsewhere, env=env)
    assert where.returncode == 0, where.stderr
    package, cluster_dir, experiment_dir = (Path(line) for line in where.stdout.split())
    assert package == site / "gcs_hpc" / "__init__.py"
    assert cluster_dir == site / "gcs_hpc" / "configs" / "cluster"
    assert experiment_dir == site / "gcs_hpc" / "configs" / "experiments"
    assert sorted(p.name for p in cluster_dir.glob("*.yaml")) == ["local.yaml", "slurm-gpu.yaml", "slurm.yaml"]

    # the workstation's default observation model is the shipped one, by name
    observation = _run(["-c", "from gcs_hpc.experiments.workstation import DEFAULT_OBSERVATION as d; "
                        "from gcs_hpc.maps.observation import load_observation as load; "
                        "from gcs_hpc.shipped import shipped_config_dir as shipped; "
                        "print(load(d).name, load(d) == load(shipped('observation') / 'sluggs.yaml'), "
                        "shipped('observation'))"], cwd=elsewhere, env=env)
    assert observation.returncode == 0, observation.stderr
    assert observation.stdout.split() == ["sluggs", "True", str(site / "gcs_hpc" / "configs" / "observation")]

    listing = _run(["-m", "gcs_hpc.experiments", "list"], cwd=elsewhere, env=env)
    assert listing.returncode == 0, listing.stderr
    shipped = sorted(p.stem for p in (REPO / "configs" / "experiments").glob("*.yaml") if p.stem != "scales")
    assert (experiment_dir / "scales.yaml").is_file()  # the sizes every experiment inherits
    assert sorted(line.split()[0] for line in listing.stdout.splitlines()) == shipped

    dry = _run(["-m", "gcs_hpc.campaign", "--cluster", "slurm", "--n-models", "4", "--dry-run",
                "--store", str(elsewhere / "run.zarr")], cwd=elsewhere, env=env)
    if shutil.which("sbatch"):
        assert dry.returncode == 0, dry.stderr
        assert "dry run: nothing submitted" in dry.stdout
    else:  # the slurm file was found and read: what stops it is the missing sbatch
        assert dry.returncode == 2 and "sbatch, which is not on PATH" in dry.stderr, dry.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == []
