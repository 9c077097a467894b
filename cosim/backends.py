"""One call to simulate a netlist object in either SPICE back end, with the same result names.

Results are ``{'time' | 'sweep', 'v(node)', 'i(source)', 'v(xinst.internal)'}`` (lower case)
whichever simulator ran; branch currents keep SPICE's sign (a source delivering power is
negative). ngspice is the simulator of record; VACASK (KLU, Verilog-A through OpenVAF) is the
fast one for large arrays.
"""

from __future__ import annotations

import enum
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np

from cosim import ngspice_compat, vacask
from cosim.session.runners import from_vacask
from netlist_gen.ir import Netlist
from netlist_gen.ngspice import write_ngspice
from netlist_gen.vacask import write_vacask


class Backend(enum.Enum):
    NGSPICE = "ngspice"
    VACASK = "vacask"


def osdi_cache_dir() -> Path:
    """Where compiled Verilog-A modules are kept (``RRAMCOSIM_CACHE`` overrides)."""
    base = os.environ.get("RRAMCOSIM_CACHE") or os.path.join(tempfile.gettempdir(), "rramcosim-cache")
    path = Path(base) / "osdi"
    path.mkdir(parents=True, exist_ok=True)
    return path


def compile_va_text(source: str, module: str) -> Path:
    """Compile Verilog-A text (cached by content) and return the ``.osdi`` path."""
    folder = osdi_cache_dir()
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    va_path = folder / f"{module}-{digest}.va"
    if not va_path.exists():
        tmp = va_path.with_suffix(".va.tmp")
        tmp.write_text(source)
        os.replace(tmp, va_path)
    return vacask.compile_verilog_a(va_path, folder)


def simulate_netlist(netlist: Netlist, backend: Backend = Backend.NGSPICE, *,
                     va_sources: Mapping[str, str] | None = None,
                     workdir: Path | None = None) -> dict[str, np.ndarray]:
    """Simulate ``netlist``'s analysis. ``va_sources`` maps subcircuit names to their Verilog-A
    text, used instead of the subcircuit when the back end is VACASK."""
    if netlist.analysis is None:
        raise ValueError("the netlist has no analysis to run")
    if backend is Backend.NGSPICE:
        return dict(ngspice_compat.run_deck(write_ngspice(netlist)))
    modules = {name: str(compile_va_text(text, name)) for name, text in (va_sources or {}).items()}
    (plot,) = vacask.run_vacask(write_vacask(netlist, modules), workdir=workdir).analyses.values()
    return from_vacask(plot)
