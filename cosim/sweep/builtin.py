"""Built-in sweep tasks: "device-levels" (programmed resistance levels, the data of the
reference paper's Fig. 2) and "selftest" (cheap and deterministic, for tests and benchmarks)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from cosim.sweep.spec import Engine
from cosim.sweep.tasks import register_task

_DEVICE_LEVEL_DEFAULTS: dict[str, Any] = {
    "preset": "siox-literature", "n_devices": 200, "v_set": 2.0, "set_width": 1e-6,
    "ramp_time": 1e-3,
}


def _stats(prefix: str, r: np.ndarray) -> dict[str, float]:
    mean = float(np.mean(r))
    std = float(np.std(r))
    return {f"{prefix}_median": float(np.median(r)), f"{prefix}_mean": mean,
            f"{prefix}_std": std, f"{prefix}_sigma_mu": std / mean,
            f"{prefix}_sigma_ln": float(np.std(np.log(r)))}


@register_task("device-levels", version="1", engines=(Engine.FAST,), spice_check=False)
def device_levels(point: dict[str, Any]) -> dict[str, float]:
    """Program ``n_devices`` devices: SET at compliance ``i_c`` (A), then RESET to ``v_stop`` (V).

    Point keys: i_c, v_stop, seed; optional preset, n_devices, v_set (V), set_width (s),
    ramp_time (s). Devices start fully RESET (g_max), with device-to-device variability drawn
    and cycle-to-cycle variability added after each operation, all from ``seed``. Returns the
    median, mean, std, sigma/mu and log-spread of R_LRS and R_HRS (ohm) read at the card's
    read voltage.
    """
    from compact_model import programming as pr
    from compact_model.cards import load_preset
    from compact_model.variability import sample_devices

    unknown = set(point) - {"i_c", "v_stop", "seed", "engine", "spice_check", *_DEVICE_LEVEL_DEFAULTS}
    if unknown:
        raise ValueError(f"device-levels: unknown parameter(s) {sorted(unknown)}")
    cfg = {**_DEVICE_LEVEL_DEFAULTS, **point}
    i_c, v_stop = float(cfg["i_c"]), float(cfg["v_stop"])
    if i_c <= 0 or v_stop <= 0:
        raise ValueError(f"device-levels: i_c and v_stop must be > 0, got {i_c}, {v_stop}")
    card = load_preset(str(cfg["preset"]))
    var, v_read = card.variability, card.read_voltage
    rng = np.random.default_rng(int(cfg["seed"]))
    devices = sample_devices(card.device, var, int(cfg["n_devices"]), rng)
    lrs = pr.set_with_compliance(devices, devices.g_max, i_c, v_set=float(cfg["v_set"]),
                                 width=float(cfg["set_width"]), var=var, rng=rng, v_read=v_read)
    hrs = pr.reset_to_vstop(devices, lrs, v_stop, ramp_time=float(cfg["ramp_time"]), var=var,
                            rng=rng, v_read=v_read)
    r_lrs = pr.read_resistance(devices, lrs, v_read)
    r_hrs = pr.read_resistance(devices, hrs, v_read)
    return {**_stats("r_lrs", r_lrs), **_stats("r_hrs", r_hrs),
            "window_median": float(np.median(r_hrs / r_lrs))}


@register_task("selftest", version="1")
def selftest(point: dict[str, Any]) -> dict[str, float]:
    """Sleep ``sleep_s`` (s), then return numbers drawn from ``seed`` and ``x``.

    ``fail_if_exists``: a path; the point raises while that file exists, so a test can make a
    point fail once and then succeed with ``--retry-failed``.
    """
    sleep_s = float(point.get("sleep_s", 0.0))
    if sleep_s > 0:
        time.sleep(sleep_s)
    flag = point.get("fail_if_exists")
    if flag and Path(str(flag)).exists():
        raise RuntimeError(f"selftest: failing on purpose while {flag} exists")
    x = float(point.get("x", 0.0))
    # hash() of a str varies between processes: key the stream on the value's digits instead.
    rng = np.random.default_rng([int(point.get("seed", 0)), int(round(abs(x) * 1e6)) % 2 ** 32])
    return {"value": x * x + float(rng.normal()), "uniform": float(rng.uniform()),
            "sqrt_abs_x": math.sqrt(abs(x))}
