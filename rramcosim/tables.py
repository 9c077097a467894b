"""Result tables on the terminal (rich)."""

from __future__ import annotations

from typing import Any

# Piped into a file or log, rich assumes 80 columns and squeezes a wide table to "acc…" headers
# and cut numbers; there nothing wraps, so give it room for every column.
_PIPED_WIDTH = 240


def print_table(table: Any) -> None:
    """Print a ``rich.table.Table``: at the terminal's width, or whole when output is piped."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=_PIPED_WIDTH)
    console.print(table)
