"""Atomic file writes: a reader never sees a half-written parameter file or report."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_figure_atomic(fig: object, path: str | os.PathLike[str], *, dpi: int = 110) -> Path:
    """Save a matplotlib figure by writing a temporary file and renaming it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")  # same suffix: it picks the format
    try:
        fig.savefig(tmp, dpi=dpi)  # type: ignore[attr-defined]
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
