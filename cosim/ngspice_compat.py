"""Make PySpice 1.5 usable against the system ngspice 39 (Debian) with numpy 2.

Call :func:`install` once before simulating (it is idempotent; nothing happens at import time).
The ``run_*`` helpers return mode-independent results with lower-case names, and raise
:class:`SpiceError` carrying ngspice's own text when a simulation fails.

Observed with PySpice 1.5 / ngspice 39 / numpy 2.x before these fixes:

* subprocess mode: ``NameError: Expected label Circuit instead of Note`` (ngspice 39 prints
  "Note: No compatibility mode selected!" ahead of the raw header), then, once past that,
  ``ValueError: The binary mode of fromstring is removed, use frombuffer instead``.
* shared mode: works (``libngspice.so`` from libngspice0-dev), but logs
  "Unsupported Ngspice version 39", and raises ``NgSpiceCommandError: Command 'run' failed``
  for simulations that *succeed*: PySpice treats every stderr line not starting with
  "Warning:" (e.g. "Note: Starting dynamic gmin stepping") as an error.
* branch currents are ``vinput`` in shared mode but ``VInput`` in subprocess mode, nodes
  likewise (``out`` vs ``Out``).
* memory: each ``ngSpice_Circ`` keeps the parsed circuit alive in libngspice and PySpice never
  removes it. Measured RSS growth for an RC transient (526 points, ~3 ms/run), after warm-up:
  ~1.0 MB per 50 runs (~20 kB/run, linear over 1500 runs) without ``remcirc``; ~0.07 MB per 50
  (~0.8 kB/run) with it. So each run here ends with ``destroy all`` + ``remcirc``.
* floating nodes do not fail in ngspice 39: gmin/source stepping finds a solution (the node
  sits at 0 V) in both modes. A voltage-source loop fails ("Timestep too small", "run
  simulation(s) aborted"), as does a netlist syntax error ("Error: circuit not parsed.").
"""

from __future__ import annotations

import contextlib
import ctypes.util
import enum
import glob
import logging
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from PySpice.Probe.WaveForm import AcAnalysis, DcAnalysis, TransientAnalysis
from PySpice.Spice.NgSpice import RawFile as _ng_raw
from PySpice.Spice.NgSpice import Server as _ng_server
from PySpice.Spice.NgSpice.Shared import NgSpiceShared
from PySpice.Spice.NgSpice.Simulation import (
    NgSpiceSharedCircuitSimulator,
    NgSpiceSubprocessCircuitSimulator,
)
from PySpice.Spice.Simulation import CircuitSimulator

_logger = logging.getLogger(__name__)

SUBPROCESS_TIMEOUT_S = 300.0  # a stuck ngspice subprocess is killed rather than hanging the caller
_NOTE_PREFIX = b"Note: No compatibility mode selected!"
_SILENCED_MESSAGE = "Unsupported Ngspice version 39"  # the only version we verified works
# Whole lines with phrases that mean ngspice gave up. Deliberately narrow: PySpice's "'error'
# anywhere" heuristic trips on gmin-stepping notes and would on a node called "error".
_FATAL_RE = re.compile(
    r"^\s*(?:Error(?::| on line).*|.*(?i:run simulation\(s\) aborted|timestep too small"
    r"|simulation interrupted due to error).*|doAnalyses:.*|DC solution failed.*)$",
    re.MULTILINE,
)
_DEBIAN_LIBRARY_GLOBS = ("/usr/lib/*-linux-gnu/libngspice.so*", "/usr/lib/libngspice.so*",
                         "/usr/local/lib/libngspice.so*")

_install_lock = threading.Lock()
_shared_lock = threading.RLock()  # NgSpiceShared is a process-wide singleton
_installed = False


class SpiceMode(enum.Enum):
    SHARED = "ngspice-shared"
    SUBPROCESS = "ngspice-subprocess"


class SpiceError(RuntimeError):
    """ngspice failed; ``str()`` holds its error lines, ``output`` its full text."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class _VersionWarningFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _SILENCED_MESSAGE


class _CompatRawFile(_ng_raw.RawFile):
    """Raw-file parser tolerant of ngspice 39's leading note, and numpy-2 safe."""

    def _read_header(self, stdout: bytes) -> bytes:
        head, sep, tail = stdout.partition(b"Binary:")
        lines = [ln for ln in head.split(b"\n") if not ln.startswith(_NOTE_PREFIX)]
        return super()._read_header(b"\n".join(lines) + sep + tail)

    def _read_variable_data(self, raw_data: bytes) -> None:
        columns = self.number_of_variables * (2 if self.flags == "complex" else 1)
        if self.flags not in ("real", "complex"):
            raise NotImplementedError(self.flags)
        # frombuffer replaces the removed binary np.fromstring; copy so arrays are writable.
        data = np.frombuffer(raw_data, count=columns * self.number_of_points, dtype="<f8").copy()
        data = data.reshape((self.number_of_points, columns)).T
        if self.flags == "complex":
            data = data[0::2] + 1j * data[1::2]
        for variable in self.variables.values():
            variable.data = data[variable.index]


def find_ngspice_library() -> str | None:
    """Path or soname of libngspice: $NGSPICE_LIBRARY_PATH, the loader cache, Debian paths."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        return env
    name = ctypes.util.find_library("ngspice")  # 'libngspice.so.0' even without the -dev symlink
    if name:
        return name
    for pattern in _DEBIAN_LIBRARY_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    return None


def install() -> None:
    """Idempotently set the libngspice path, silence the v39 warning, patch the raw parser."""
    global _installed
    with _install_lock:
        if _installed:
            return
        library = find_ngspice_library()
        if library is not None:
            # PySpice formats LIBRARY_PATH with the instance id; escape braces in real paths.
            NgSpiceShared.LIBRARY_PATH = library.replace("{", "{{").replace("}", "}}")
        else:
            _logger.warning("libngspice not found; shared mode will use PySpice's default")
        logging.getLogger(NgSpiceShared._logger.name).addFilter(_VersionWarningFilter())
        _ng_server.RawFile = _CompatRawFile  # SpiceServer looks RawFile up in its own module
        _installed = True


def ngspice_version(mode: SpiceMode = SpiceMode.SHARED) -> int:
    install()
    if mode is SpiceMode.SHARED:
        with _shared_lock:
            return int(NgSpiceShared.new_instance().ngspice_version)
    out = subprocess.run([_ng_server.SpiceServer.SPICE_COMMAND, "--version"], capture_output=True,
                         text=True, timeout=30, check=False).stdout
    match = re.search(r"ngspice-(\d+)", out)
    if match is None:
        raise SpiceError(f"cannot parse ngspice version from: {out!r}", out)
    return int(match.group(1))


def _raise_on_fatal(output: str, context: str) -> None:
    fatal = [m.group(0).strip() for m in _FATAL_RE.finditer(output)
             if not m.group(0).lstrip().lower().startswith("warning")]
    if fatal:
        raise SpiceError(f"ngspice {context} failed: " + " | ".join(dict.fromkeys(fatal)), output)


class _SpiceServer(_ng_server.SpiceServer):
    """SpiceServer with a timeout and errors that carry ngspice's text."""

    def __call__(self, spice_input: str) -> _CompatRawFile:
        with subprocess.Popen((self._spice_command, "-s"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
            try:
                stdout, stderr_b = process.communicate(spice_input.encode("utf-8"),
                                                       timeout=SUBPROCESS_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                raise SpiceError(f"ngspice timed out after {SUBPROCESS_TIMEOUT_S} s") from None
        stderr = stderr_b.decode("utf-8", "replace")
        head = stdout.partition(b"Binary:")[0].decode("utf-8", "replace")
        _raise_on_fatal(head + "\n" + stderr, "subprocess run")
        points = re.search(r"^@@@ \d+ (\d+)", stderr, re.MULTILINE)
        if points is None:
            raise SpiceError("ngspice produced no data: " + stderr.strip(), head + stderr)
        return _CompatRawFile(stdout, int(points.group(1)))


class _SubprocessSimulator(NgSpiceSubprocessCircuitSimulator):
    def __init__(self, circuit: Any, **kwargs: Any) -> None:
        super().__init__(circuit, **kwargs)
        self._spice_server = _SpiceServer(**kwargs)


def _shared_exec(ng: NgSpiceShared, command: str) -> str:
    """Run a command and return its output; failure is judged by the caller, not PySpice."""
    try:
        ng.exec_command(command)
    except NameError:  # NgSpiceCommandError: PySpice's over-eager stderr heuristic
        pass
    return ng.stdout + "\n" + ng.stderr


class _SharedSimulator(NgSpiceSharedCircuitSimulator):
    def _run(self, analysis_method: str, *args: Any, **kwargs: Any) -> Any:
        CircuitSimulator._run(self, analysis_method, *args, **kwargs)  # only builds the deck
        deck = str(self)
        self.reset_analysis()
        with _shared_run(self._ngspice_shared, deck) as plot_name:
            return self._ngspice_shared.plot(self, plot_name).to_analysis()


@contextlib.contextmanager
def _shared_run(ng: NgSpiceShared, deck: str) -> Iterator[str]:
    """Load and run ``deck`` under the lock; yields the result plot's name, then unloads it."""
    with _shared_lock:
        _shared_exec(ng, "destroy all")  # old plots must not leak into this result
        try:
            try:
                ng.load_circuit(deck)
            except NameError:
                pass
            output = ng.stdout + "\n" + ng.stderr
            output += "\n" + _shared_exec(ng, "run")
            _raise_on_fatal(output, "shared run")
            plot_name = ng.last_plot
            if plot_name == "const":
                raise SpiceError("ngspice produced no data: " + output.strip()[-2000:], output)
            yield plot_name
        finally:
            _shared_exec(ng, "destroy all")
            _shared_exec(ng, "remcirc")  # else every loaded circuit stays in memory


def _simulator(circuit: Any, mode: SpiceMode, options: Mapping[str, Any]) -> Any:
    install()
    if mode is SpiceMode.SHARED:
        with _shared_lock:  # the constructor may create the NgSpiceShared singleton
            sim = _SharedSimulator(circuit)
    else:
        sim = _SubprocessSimulator(circuit)
    if options:
        sim.options(**options)
    return sim


def _canonical(name: str) -> str:
    """'V(Out)' -> 'out', 'i(VInput)' / 'vinput#branch' -> 'vinput'."""
    key = name.strip().lower()
    if len(key) > 3 and key[1] == "(" and key[0] in "vi" and key.endswith(")"):
        key = key[2:-1]
    return key.removesuffix("#branch")


def normalize(analysis: Any) -> dict[str, np.ndarray]:
    """PySpice analysis (either mode) -> {'time'|'sweep'|'frequency', 'v(node)', 'i(src)'}."""
    out: dict[str, np.ndarray] = {}
    # isinstance, not getattr: Analysis.__getattr__ would also return a node named "time".
    for cls, abscissa in ((TransientAnalysis, "time"), (DcAnalysis, "sweep"),
                          (AcAnalysis, "frequency")):
        if isinstance(analysis, cls):
            out[abscissa] = np.array(getattr(analysis, abscissa), dtype=float)
    for prefix, group in (("v", analysis.nodes), ("i", analysis.branches)):
        for name, wave in group.items():
            out[f"{prefix}({_canonical(name)})"] = np.array(wave)  # plain ndarray, no units
    return out


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # results are shared values, not scratch buffers
    return array


@dataclass(frozen=True)
class Waveforms:
    """Transient result; keys are lower-case node / source names without v( ) or i( )."""

    time: np.ndarray
    voltages: Mapping[str, np.ndarray] = field(default_factory=dict)
    currents: Mapping[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_analysis(cls, analysis: Any) -> Waveforms:
        flat = {k: _frozen(v) for k, v in normalize(analysis).items()}
        return cls(time=flat["time"],
                   voltages=MappingProxyType({k[2:-1]: v for k, v in flat.items() if k[:2] == "v("}),
                   currents=MappingProxyType({k[2:-1]: v for k, v in flat.items() if k[:2] == "i("}))

    def v(self, node: str) -> np.ndarray:
        return self._get(self.voltages, node, "node")

    def i(self, source: str) -> np.ndarray:
        return self._get(self.currents, source, "branch")

    def as_dict(self) -> dict[str, np.ndarray]:
        flat = {"time": self.time}
        flat.update({f"v({k})": v for k, v in self.voltages.items()})
        flat.update({f"i({k})": v for k, v in self.currents.items()})
        return flat

    @staticmethod
    def _get(group: Mapping[str, np.ndarray], name: str, kind: str) -> np.ndarray:
        try:
            return group[_canonical(name)]
        except KeyError:
            raise KeyError(f"no {kind} {name!r}; have {sorted(group)}") from None


def run_transient(circuit: Any, step_time: float, end_time: float,
                  mode: SpiceMode = SpiceMode.SHARED, *, start_time: float = 0.0,
                  max_time: float | None = None, use_initial_condition: bool = False,
                  **options: Any) -> Waveforms:
    """Transient analysis of a PySpice ``Circuit``; extra kwargs become ``.options``."""
    sim = _simulator(circuit, mode, options)
    analysis = sim.transient(step_time=step_time, end_time=end_time, start_time=start_time,
                             max_time=max_time, use_initial_condition=use_initial_condition)
    return Waveforms.from_analysis(analysis)


def run_operating_point(circuit: Any, mode: SpiceMode = SpiceMode.SHARED,
                        **options: Any) -> dict[str, float]:
    """Operating point as {'v(node)': volts, 'i(vsource)': amps}, lower-case keys."""
    analysis = _simulator(circuit, mode, options).operating_point()
    return {k: float(np.real(v).reshape(-1)[0]) for k, v in normalize(analysis).items()}


def run_deck(deck: str) -> dict[str, np.ndarray]:
    """Run a complete ngspice deck (title, elements, one analysis line, ``.end``) in shared mode.

    Returns the last plot's vectors as ``{'time'|'v-sweep'|..., 'v(node)', 'i(source)'}`` with
    lower-case names. The deck must not contain ``.control`` blocks: netlists are written by
    ``netlist_gen``, which never emits them.
    """
    if re.search(r"^\s*\.control", deck, re.IGNORECASE | re.MULTILINE):
        raise SpiceError("refusing a deck with a .control block (it could run shell commands)")
    install()
    ng = NgSpiceShared.new_instance()
    with _shared_run(ng, deck) as plot_name:
        out: dict[str, np.ndarray] = {}
        for name, vector in ng.plot(None, plot_name).items():
            data = np.array(vector._data)  # noqa: SLF001 - PySpice exposes no public accessor
            if np.iscomplexobj(data) and not np.any(data.imag):
                data = data.real
            key = name.lower()
            if key.endswith("-sweep"):  # the DC sweep abscissa, e.g. 'v-sweep'
                key = "sweep"
            elif vector.is_voltage_node:
                key = f"v({_canonical(name)})"
            elif vector.is_branch_current:
                key = f"i({_canonical(name)})"
            out[key] = _frozen(data)
        return out
