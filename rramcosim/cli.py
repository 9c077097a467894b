"""The `rramcosim` command. Each subcommand parses options and calls one library function."""

import click


@click.group()
def main() -> None:
    """SPICE-level co-simulation of RRAM neuromorphic hardware."""


if __name__ == "__main__":
    main()
