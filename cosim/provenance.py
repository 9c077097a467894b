"""What a result record needs to be reproduced: configs as JSON-ready values, the versions of
the software that produced it and fingerprints of its input files (one place, so every
experiment records the same fields)."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib.metadata as md
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """Configs as JSON-ready values (dataclasses as dicts, enums by value, tuples as lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the file at ``path``, read in chunks: recorded next to an input file's path
    (a saved front end, say), so a record names the exact bytes it ran on."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def git_commit(where: str | os.PathLike[str] | None = None) -> str:
    """Commit of the checkout the code runs from (or of ``where``; "" outside a git checkout),
    with "+dirty" when tracked files have local edits (the commit alone would not reproduce the
    result)."""
    here = str(Path(__file__).resolve().parent if where is None else where)
    try:
        head = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if status else "")


def versions() -> dict[str, str]:
    """Python, numpy, torch (and its thread count: results depend on it), rramcosim, PySpice and
    the git commit."""
    import torch

    out = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
           "torch_threads": str(torch.get_num_threads()), "git_commit": git_commit()}
    for pkg in ("rramcosim", "PySpice"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = ""
    return out


__all__ = ["plain", "file_sha256", "git_commit", "versions"]
