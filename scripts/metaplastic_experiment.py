"""MNIST -> Fashion-MNIST with and without metaplasticity, in software and on RRAM devices.

A thin wrapper of `rramcosim experiment metaplastic` (``rramcosim/metaplastic_cli.py``): same
options, same outputs (OUT/results.csv, OUT/run.json, OUT/slice.cir). For example

    .venv/bin/python scripts/metaplastic_experiment.py --out out/metaplastic --spice-check 4

See ``--help`` for the options and their defaults.
"""

from __future__ import annotations

from rramcosim.metaplastic_cli import metaplastic

if __name__ == "__main__":
    metaplastic.main(prog_name="metaplastic_experiment.py")
