"""rramcosim: SPICE-level co-simulation of RRAM neuromorphic hardware (command-line front end)."""

__version__ = "0.1.0"
