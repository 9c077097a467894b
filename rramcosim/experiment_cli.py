"""`rramcosim experiment ...`: the paper's experiments, each a subcommand in its own module.

Every experiment writes a tidy table (CSV) and a JSON record of its config, seeds, engine,
SPICE-check agreement, run time and versions next to it, so a result can be reproduced exactly.
"""

from __future__ import annotations

import click


@click.group("experiment")
def experiment() -> None:
    """Run one of the reference experiments (see `rramcosim experiment COMMAND --help`)."""


# Each experiment's command lives in its own module (they are large); registered here.
from rramcosim.frontend_cli import bits, ic_vstop  # noqa: E402
from rramcosim.metaplastic_cli import metaplastic  # noqa: E402
from rramcosim.reference_cli import classify, continual  # noqa: E402
from rramcosim.retrain_cli import retrain  # noqa: E402

for _command in (bits, classify, continual, ic_vstop, metaplastic, retrain):
    experiment.add_command(_command)
