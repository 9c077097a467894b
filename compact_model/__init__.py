"""RRAM compact model: one set of device equations with numpy, torch and SPICE forms,
parameter presets with provenance, measurement readers and lmfit fitting."""
