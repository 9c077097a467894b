"""Windowed SPICE sessions: a transient stepped window by window while Python picks the stimuli.

    from cosim.session import SessionConfig, SessionBackend, open_session

    with open_session(SessionConfig(backend=SessionBackend.NGSPICE_RESUME)) as s:
        s.load(netlist)
        r = s.run_window(1e-6, sources={"in": Pwl((0.0, 1e-9), (0.0, 1.0))},
                         step=1e-9, max_step=1e-9)
        gap = s.vector("v(xd1.gap)")

Back ends (``SessionBackend``), all behind one interface (``SpiceSession``):

* ``NGSPICE_RESUME`` (preferred): ngspice's shared library in a worker process keeps one
  transient halted between windows. A window sets a breakpoint at its end with
  ``ngSpice_SetBkpt`` plus ``stop when time >= t_end``, replaces the waveforms of the sources
  it changes with ``alter @vname[pwl] = [...]`` (times on the transient's axis; each corner
  is registered as a breakpoint too, since ngspice only chains PWL breakpoints of sources it
  parsed) and calls ``resume``. Device state is the simulator's own: nothing is re-parsed or
  re-initialised, so a windowed run is the same transient as an uninterrupted one, up to
  the extra time points forced at window ends.
* ``NGSPICE_RESTART``: each window is a complete ``uic`` transient whose initial conditions are
  the previous window's final node voltages (``.ic``, capacitor ``IC=`` dropped) and whose
  dynamic RRAM instances carry ``rr_gap0`` = their gap.
* ``VACASK``: as RESTART, one VACASK run per window; state as ``icmode="uic"`` with
  ``ic={"node", V, ...}`` (internal Verilog-A nodes ``"xd1:gap"`` included) and ``rr_gap0``.
  Capacitor ICs work (VACASK has no B-sources, so circuits are R, C, sources and Verilog-A).

Why not the alternatives (tried on ngspice 39):

* ``stop when time = t`` issued while a transient is halted sets no breakpoint in ngspice 39:
  ``resume`` steps over ``t`` and runs to the end of the transient. ``ngSpice_SetBkpt`` does.
* PySpice's external sources (``vin a 0 dc 0 external`` with the ``get_vsrc_data`` callback):
  ``run`` segfaults in libngspice 39 with PySpice 1.5 even with PySpice's own default callback
  (a 4-line RC deck reproduces it). They would also give ngspice no breakpoints at waveform
  corners and run Python in every Newton iteration; ``alter`` of the PWL plus
  ``ngSpice_SetBkpt`` at its corners keeps ngspice's own waveform handling.
* Loading a second circuit (e.g. for an operating point) destroys the halted one ("losing old
  state"), hence ``op()`` ends the halted transient and the next window restarts from ICs.

Measured (RC, 1 us windows): 300 resumed windows of random lengths (1 ns .. 1.2 us, some
shorter than max_step) took 2.7 ms each, all halted exactly. A windowed RC equals the
uninterrupted transient to 1e-15 when its window ends are time points of both (PWL corners);
the A-STDP layer (2x2, SFA, two 3 us windows) fires at the same times and ends with the same
gaps and V_TH to 1e-14. Otherwise the forced time points shift later ones within the solver's
tolerance (a LIF neuron's fires by <= 5 ns of 1.7 us).
In restart mode the first steps after each window end are new (backward Euler from the ICs):
differences of order reltol, e.g. 4e-5 of the RC range, one 4 ns step in an A-STDP fire time.

A window that fails (non-convergence) is retried as complete window decks from the state at its
start with the cumulative rungs of ``SessionConfig.retries``; when all fail,
:class:`SimulationError` names the window, the rungs and the saved decks (each reproduces its
failure when run again). A window exceeding ``timeout_s`` kills the worker and raises
:class:`SimulationTimeout`. The worker is replaced every ``recycle_every`` windows (a new worker
costs ~0.35 s), and a halted transient is restarted from its state once its vectors exceed
``max_segment_mb``. Worker RSS over 3000 RC windows: restart mode 51.5 -> 52.2 MB (flat after
~600), flat 51.4 MB recycling every 200; resume mode +3.4 kB per window (the halted plot's
vectors) without recycling, flat 52 MB recycling every 200. In-process ``run_deck`` for
comparison: +0.6 kB per run.

Scripts that open sessions need the usual ``if __name__ == "__main__":`` guard: the worker is
started with ``multiprocessing`` (forkserver by default), which imports the main module.
"""

from __future__ import annotations

from cosim.session.config import (NGSPICE_RETRIES, VACASK_RETRIES, Results, RetryStep,
                                  SessionBackend, SessionConfig, SimulationError,
                                  SimulationTimeout, SpiceSession, StartMethod)
from cosim.session.core import WindowedSession

__all__ = ["NGSPICE_RETRIES", "VACASK_RETRIES", "Results", "RetryStep", "SessionBackend",
           "SessionConfig", "SimulationError", "SimulationTimeout", "SpiceSession",
           "StartMethod", "WindowedSession", "open_session"]


def open_session(config: SessionConfig | None = None) -> WindowedSession:
    """A session for ``config`` (default: ngspice, halt/resume). Use it as a context manager
    or call ``close()``: ngspice sessions own a worker process."""
    return WindowedSession(config)
