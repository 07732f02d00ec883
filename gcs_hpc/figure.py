"""Saving the package's figures: one PNG writer that records the titles drawn in the file.

Every figure the package makes goes through :func:`save`. It writes the figure's title and its panels'
titles, joined by `` | ``, into the PNG's ``Title`` text chunk, so a reader (or a test) finds what the
figure says it shows without looking at pixels: ``PIL.Image.open(path).text["Title"]`` or
:func:`saved_title`. Titles state what is drawn (how many bins hold points, how many images, galaxies or
points), not what was asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Separator of the figure's title and its panels' titles in the PNG ``Title`` chunk.
TITLE_SEPARATOR = " | "


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``count(5, "bin")`` -> ``'5 bins'``,
    ``count(2, "galaxy", "galaxies")`` -> ``'2 galaxies'``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def titles(fig: Any) -> list[str]:
    """The non-empty titles of ``fig``: its suptitle first, then each panel's, in drawing order."""
    found = []
    if getattr(fig, "_suptitle", None) is not None and fig._suptitle.get_text():
        found.append(fig._suptitle.get_text())
    found += [ax.get_title() for ax in fig.axes if ax.get_title()]
    return found


def save(fig: Any, path: str | Path, dpi: int = 100) -> str:
    """Write ``fig`` as a PNG at ``path`` with its titles in the ``Title`` chunk, close it, return the
    recorded title."""
    title = TITLE_SEPARATOR.join(titles(fig))
    fig.savefig(path, dpi=dpi, metadata={"Title": title})
    pyplot().close(fig)
    return title


def saved_title(path: str | Path) -> str:
    """The ``Title`` chunk of a PNG written by :func:`save` (empty when it has none)."""
    from PIL import Image

    with Image.open(path) as image:
        return str(image.text.get("Title", ""))
