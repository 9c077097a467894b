"""Typed factories of the circuits rramcosim simulates (1T1R cell, crossbar, neurons, SFA cell, ...)."""
