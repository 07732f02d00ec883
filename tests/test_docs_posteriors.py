"""docs/posteriors.md (issue 15): its bash commands parse with the CLIs they name, its Python compiles."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.test_readme import check_cli, commands

DOC = Path(__file__).resolve().parents[1] / "docs" / "posteriors.md"
_BLOCK = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.M | re.S)


def blocks(lang: str) -> list[str]:
    return [m["body"] for m in _BLOCK.finditer(DOC.read_text()) if m["lang"] == lang]


@pytest.mark.parametrize("index", range(len(blocks("bash"))))
def test_bash_blocks_parse_and_name_real_options(index: int) -> None:
    block = blocks("bash")[index]
    assert subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True).returncode == 0
    found = commands(block)
    assert found
    for command in found:
        assert command[:2] == ["python", "-m"], command
        check_cli(command[2], command[3:])


def test_python_blocks_compile() -> None:
    assert blocks("python")
    for block in blocks("python"):
        compile(block, str(DOC), "exec")
