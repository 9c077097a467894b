"""Reading and writing model cards (TOML or JSON), and the bundled presets.

A card file has top-level ``name`` and ``read_voltage``, tables ``[device]``, ``[variability]``,
``[transistor]``, ``[provenance]`` (with an optional ``[provenance.fit_report]``) and
``[uncertainties]`` (keys like ``"device.i0"``). All numbers are plain SI floats.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import tomli_w

from compact_model.atomic import write_text_atomic
from compact_model.params import (AccessTransistorParams, DeviceParams, ModelCard, Polarity,
                                  Provenance, VariabilityParams)

_SECTIONS = {"device": DeviceParams, "variability": VariabilityParams,
             "transistor": AccessTransistorParams}


class CardError(ValueError):
    """A model card file that cannot be used; the message names the file and the field."""


def _build(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, Mapping):
        raise CardError(f"{where}: expected a table, got {type(table).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise CardError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
                        f"known: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "set_polarity":
            try:
                values[key] = Polarity(int(value)) if not isinstance(value, str) else Polarity[value.upper()]
            except (KeyError, ValueError):
                raise CardError(f"{where}.set_polarity: expected 1, -1, 'positive' or 'negative', "
                                f"got {value!r}") from None
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CardError(f"{where}.{key}: expected a number, got {value!r}")
        else:
            values[key] = float(value)
    try:
        return cls(**values)
    except ValueError as exc:
        raise CardError(f"{where}: {exc}") from None


def card_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> ModelCard:
    """Build and validate a ``ModelCard``; errors name ``source`` and the offending field."""
    allowed = {"name", "read_voltage", "provenance", "uncertainties", *_SECTIONS}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise CardError(f"{source}: unknown top-level key(s) {', '.join(map(repr, unknown))}")
    if "device" not in data:
        raise CardError(f"{source}: missing the [device] table")
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise CardError(f"{source}: 'name' must be a non-empty string")
    parts = {key: _build(cls, data.get(key, {}), f"{source} [{key}]") for key, cls in _SECTIONS.items()}
    prov = data.get("provenance", {})
    if not isinstance(prov, Mapping):
        raise CardError(f"{source} [provenance]: expected a table")
    try:
        provenance = Provenance(**prov)
    except TypeError as exc:
        raise CardError(f"{source} [provenance]: {exc}") from None
    unc = data.get("uncertainties", {})
    for key, value in unc.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise CardError(f"{source} [uncertainties].{key}: expected a finite number >= 0")
    try:
        return ModelCard(name=data["name"], read_voltage=float(data.get("read_voltage", 0.1)),
                         provenance=provenance, uncertainties=dict(unc), **parts)
    except ValueError as exc:
        raise CardError(f"{source}: {exc}") from None


def card_to_dict(card: ModelCard) -> dict[str, Any]:
    """Plain dict of a card (numbers, strings, tables), the inverse of ``card_from_dict``."""
    def section(obj: Any) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            out[f.name] = int(value) if isinstance(value, Polarity) else value
        return out

    return {
        "name": card.name,
        "read_voltage": card.read_voltage,
        "provenance": {"description": card.provenance.description,
                       "fitted_to": card.provenance.fitted_to,
                       "reference": card.provenance.reference,
                       "fit_report": dict(card.provenance.fit_report)},
        "device": section(card.device),
        "variability": section(card.variability),
        "transistor": section(card.transistor),
        "uncertainties": dict(card.uncertainties),
    }


def load_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read a card from ``.toml`` or ``.json``."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise CardError(f"{path}: no such model card file") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text.decode())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CardError(f"{path}: cannot parse: {exc}") from None
    return card_from_dict(data, source=str(path))


def save_card(card: ModelCard, path: str | os.PathLike[str]) -> Path:
    """Write a card as TOML or JSON (by suffix), atomically: no half-written file on failure."""
    path = Path(path)
    data = card_to_dict(card)
    text = (json.dumps(data, indent=2, sort_keys=False) + "\n" if path.suffix.lower() == ".json"
            else tomli_w.dumps(data))
    return write_text_atomic(path, text)


def preset_names() -> list[str]:
    """Names of the presets bundled with rramcosim."""
    folder = resources.files("compact_model") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> ModelCard:
    """A bundled preset by name (see ``preset_names``)."""
    if name not in preset_names():
        raise CardError(f"unknown preset {name!r}; available: {', '.join(preset_names())}")
    res = resources.files("compact_model") / "presets" / f"{name}.toml"
    return card_from_dict(tomllib.loads(res.read_text()), source=f"preset {name}")
