"""Device parameters of the RRAM compact model, as frozen dataclasses in SI units.

The model follows the gap-based metal-oxide RRAM model of Jiang et al., "A Compact Model for
Metal-Oxide Resistive Random Access Memory With Experiment Verification", IEEE TED 63(5), 2016
(the Stanford/PKU model): a conductive filament whose tip is separated from the electrode by a
gap g; the current tunnels across the gap and the gap moves by field- and temperature-activated
ion hopping. Two changes for fitting measured devices: the I-V non-linearity voltage depends on
the gap (LRS is near ohmic, HRS strongly non-linear), and SET and RESET have their own velocity
prefactors and activation energies.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any, Mapping


class Polarity(enum.IntEnum):
    """Sign of the voltage (top electrode minus bottom electrode) that SETs the device."""

    POSITIVE = 1
    NEGATIVE = -1


def _check(cond: bool, name: str, msg: str) -> None:
    if not cond:
        raise ValueError(f"invalid parameter {name!r}: {msg}")


def _finite(obj: Any) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"invalid parameter {f.name!r}: must be finite, got {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceParams:
    """Nominal parameters of one RRAM device (all SI)."""

    # --- conduction: I = i0 * exp(-g / g0) * sinh(V / v_nl(g)) ---
    i0: float = 1e-3  # A, current prefactor
    g0: float = 0.25e-9  # m, decay length of the current with the gap
    v_nl_lrs: float = 0.25  # V, non-linearity voltage at g = g_min (large -> ohmic)
    v_nl_hrs: float = 0.25  # V, non-linearity voltage at g = g_max
    # --- state bounds ---
    g_min: float = 0.1e-9  # m, smallest gap (fully SET)
    g_max: float = 1.7e-9  # m, largest gap (fully RESET)
    # --- dynamics: dg/dt = -/+ v * exp(-Ea / kT) * sinh(gamma * a0 * |V| / (L * kT/q)) ---
    v_set: float = 10.0  # m/s, attempt velocity of gap shrinking (SET)
    v_reset: float = 10.0  # m/s, attempt velocity of gap growth (RESET)
    ea_set: float = 0.6  # eV, activation energy of SET
    ea_reset: float = 0.6  # eV, activation energy of RESET
    a0: float = 0.25e-9  # m, ion hopping distance
    thickness: float = 5e-9  # m, oxide thickness L
    gamma0: float = 16.0  # 1, field enhancement factor at zero gap
    # Field enhancement falls with the gap, gamma = max(gamma0 - beta (g/g1)^3, 0); SET and RESET get their
    # own beta so that RESET can self-limit (HRS set by V_STOP) while SET still starts from g_max.
    beta_set: float = 0.8  # 1
    beta_reset: float = 0.8  # 1
    g1: float = 1e-9  # m, gap normalisation in the gamma law
    # --- self heating: T = t_amb + r_th * |V * I| ---
    r_th: float = 2.1e3  # K/W, effective thermal resistance of the filament region
    t_amb: float = 298.0  # K, ambient temperature
    set_polarity: Polarity = Polarity.POSITIVE  # which voltage sign SETs
    window: float = 0.02e-9  # m, width of the smooth window that stops g at g_min / g_max

    def __post_init__(self) -> None:
        _finite(self)
        for name in ("i0", "g0", "v_nl_lrs", "v_nl_hrs", "g_min", "v_set", "v_reset", "a0",
                     "thickness", "gamma0", "g1", "t_amb", "window"):
            _check(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
        for name in ("ea_set", "ea_reset", "beta_set", "beta_reset", "r_th"):
            _check(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")
        _check(self.g_max > self.g_min, "g_max", f"must exceed g_min={self.g_min}, got {self.g_max}")
        _check(self.g_max < self.thickness, "g_max",
               f"must be below the oxide thickness {self.thickness}, got {self.g_max}")
        _check(isinstance(self.set_polarity, Polarity), "set_polarity", "must be a Polarity")

    def replace(self, **changes: Any) -> "DeviceParams":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True, kw_only=True)
class VariabilityParams:
    """Device-to-device (D2D) and cycle-to-cycle (C2C) variability.

    C2C follows a defect-counting picture (Ambrogio et al., IEEE TED 61(8), 2014): the filament's
    conductance G is carried by N ~ G / g_defect defects, so the relative spread of G is about
    1/sqrt(N) and shrinks as the compliance current (hence G) rises. The spread is applied to the
    gap: sigma_g = g0 * sigma_lnG.
    """

    g_defect: float = 2e-6  # S, conductance carried by one defect (sets the C2C spread vs G)
    c2c_floor: float = 0.02  # 1, smallest relative C2C spread of G (read noise, setup)
    c2c_hrs_scale: float = 1.0  # 1, extra factor on the spread after a RESET (HRS is wider)
    d2d_sigma_i0: float = 0.05  # 1, lognormal sigma of i0 between devices
    d2d_sigma_v: float = 0.1  # 1, lognormal sigma of v_set and v_reset between devices
    d2d_sigma_gap: float = 0.02e-9  # m, normal sigma of g_min/g_max offsets between devices

    def __post_init__(self) -> None:
        _finite(self)
        _check(self.g_defect > 0, "g_defect", f"must be > 0, got {self.g_defect}")
        for name in ("c2c_floor", "c2c_hrs_scale", "d2d_sigma_i0", "d2d_sigma_v", "d2d_sigma_gap"):
            _check(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessTransistorParams:
    """Smooth long-channel NMOS (EKV form) of the 1T1R access device, valid in all regions.

    I_D = i_spec * (F((V_P - V_S)/U_T) - F((V_P - V_D)/U_T)), F(x) = ln^2(1 + exp(x/2)),
    V_P = (V_G - v_th) / n (Enz, Krummenacher, Vittoz, 1995). Source and drain are symmetric.
    """

    v_th: float = 0.5  # V, threshold voltage
    n: float = 1.3  # 1, slope factor
    i_spec: float = 2e-5  # A, specific current 2 n mu C_ox (W/L) U_T^2
    temperature: float = 298.0  # K

    def __post_init__(self) -> None:
        _finite(self)
        _check(self.n >= 1.0, "n", f"slope factor must be >= 1, got {self.n}")
        _check(self.i_spec > 0, "i_spec", f"must be > 0, got {self.i_spec}")
        _check(self.temperature > 0, "temperature", f"must be > 0, got {self.temperature}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """Where a parameter set comes from."""

    description: str  # free text: what the preset models
    fitted_to: str = ""  # which data it was fitted to ("" = not fitted)
    reference: str = ""  # literature reference for documented values
    fit_report: Mapping[str, Any] = field(default_factory=dict)  # e.g. median errors, n points


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCard:
    """A complete, loadable parameter set: device, variability, access transistor, provenance."""

    name: str
    device: DeviceParams
    variability: VariabilityParams = VariabilityParams()
    transistor: AccessTransistorParams = AccessTransistorParams()
    provenance: Provenance = Provenance(description="")
    read_voltage: float = 0.1  # V, bias at which resistances are quoted
    uncertainties: Mapping[str, float] = field(default_factory=dict)  # "device.i0" -> 1-sigma, SI

    def __post_init__(self) -> None:
        _check(bool(self.name) and self.name.strip() == self.name, "name", "must be a non-empty name")
        _check(self.read_voltage != 0 and math.isfinite(self.read_voltage), "read_voltage",
               "must be finite and non-zero")
