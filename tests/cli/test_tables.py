"""Result tables printed into a pipe or log keep every column whole."""

from __future__ import annotations

from rich.table import Table

from rramcosim.tables import print_table


def test_a_wide_table_piped_to_a_file_is_not_squeezed(capsys):
    columns = [f"accuracy_nontrained_{k}" for k in range(6)]  # ~130 characters of headers
    table = Table(title="wide")
    for c in columns:
        table.add_column(c)
    table.add_row(*[f"0.{k}123456" for k in range(6)])
    print_table(table)  # pytest's capture is not a terminal
    out = capsys.readouterr().out
    assert all(c in out for c in columns) and "0.5123456" in out and "…" not in out
