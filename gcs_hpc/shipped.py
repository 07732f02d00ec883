"""The YAML files shipped with gcs_hpc: the repository's top-level ``configs/`` folder, installed as the
package ``gcs_hpc.configs`` (pyproject.toml maps one onto the other, so the files exist once).

They are found through :mod:`importlib.resources`, never relative to this file, so an editable install, a
wheel and ``pip install .`` all find the same ``cluster/``, ``experiments/`` and ``models/`` folders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The folders of ``configs/``.
KINDS = ("cluster", "experiments", "models", "observation")


def shipped_config_dir(kind: str) -> Path:
    """The folder of the shipped ``kind`` YAML files (``cluster``, ``experiments``, ``models`` or
    ``observation``).

    Parameters
    ----------
    kind
        One of :data:`KINDS`.

    Returns
    -------
    Path
        A folder on the file system (pip installs gcs_hpc unzipped; worker processes and jobs read
        these files by path).

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise ValueError(f"shipped config kind = {kind!r}; allowed: {', '.join(KINDS)}")
    return Path(str(resources.files("gcs_hpc.configs").joinpath(kind)))
