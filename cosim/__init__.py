"""Co-simulation: ngspice sessions, digital logic in Python, fast engine, datasets, experiments."""
