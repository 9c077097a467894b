"""A trained front end on disk: ``<stem>.npz`` (arrays) next to ``<stem>.json`` (config,
kinds, classes, history, provenance and anything the caller adds, e.g. accuracies)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from cosim.filters import FilterKind, WeightCoding
from cosim.frontend.config import TrainConfig, VrefMatch, as_plain_dict
from cosim.frontend.train import TrainedFrontEnd

FORMAT = "rramcosim-frontend/1"
_ARRAYS = ("weights", "v_ref_float", "levels", "scale", "v_ref")


def _paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".npz", ".json") else p
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")


def save_frontend(front: TrainedFrontEnd, path: str | os.PathLike[str], *,
                  extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write the arrays and the JSON provenance (atomically, each via a temporary file)."""
    npz, meta = _paths(path)
    npz.parent.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_name(npz.stem + ".tmp.npz")
    np.savez_compressed(tmp, **{name: getattr(front, name) for name in _ARRAYS})
    tmp.replace(npz)
    doc = {"format": FORMAT, "config": as_plain_dict(front.config),
           "kinds": [k.value for k in front.kinds], "classes": list(front.classes),
           "trained_classes": list(front.trained_classes), "history": list(front.history),
           "provenance": front.provenance, **(extra or {})}
    tmp_meta = meta.with_name(meta.name + ".tmp")
    tmp_meta.write_text(json.dumps(doc, indent=2, sort_keys=False, default=_plain) + "\n")
    tmp_meta.replace(meta)
    return npz, meta


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    if hasattr(v, "value"):
        return v.value
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")


def load_frontend(path: str | os.PathLike[str]) -> TrainedFrontEnd:
    """Read a front end written by ``save_frontend`` (``path`` with or without suffix)."""
    npz, meta = _paths(path)
    doc = json.loads(meta.read_text())
    if doc.get("format") != FORMAT:
        raise ValueError(f"{meta}: not a front-end file (format {doc.get('format')!r}, expected {FORMAT!r})")
    cfg = dict(doc["config"])
    cfg["coding"] = WeightCoding(cfg["coding"])
    cfg["recalibration"] = VrefMatch(cfg["recalibration"])
    if cfg.get("trained_classes") is not None:
        cfg["trained_classes"] = tuple(cfg["trained_classes"])
    with np.load(npz) as data:
        arrays = {name: data[name] for name in _ARRAYS}
    return TrainedFrontEnd(**arrays, kinds=tuple(FilterKind(k) for k in doc["kinds"]),
                           classes=tuple(doc["classes"]), trained_classes=tuple(doc["trained_classes"]),
                           config=TrainConfig(**cfg), history=tuple(doc["history"]),
                           provenance=doc["provenance"])
