"""No user string can start a line, a .control block or a shell command in a netlist."""

import pytest
from hypothesis import given, strategies as st

from netlist_gen.ir import Instance, Netlist, Resistor, VSource
from netlist_gen.names import check_name, is_safe_name, sanitize_name
from netlist_gen.ngspice import write_ngspice

HOSTILE = [
    "x\n.control\nshell rm -rf ~\n.endc",
    "a b",
    "a_b",
    ".include /etc/passwd",
    "r1 0 1 1k\nV9 a 0 1",
    "{rr_i0}",
    "",
    "123",
    "caf\u00e9",
    "*comment",
    "+continuation",
    "x" * 200,
]


@pytest.mark.parametrize("user", HOSTILE)
def test_sanitized_names_are_safe(user):
    name = sanitize_name(user)
    assert is_safe_name(name)
    assert "\n" not in name and "." not in name and " " not in name


def test_sanitizer_is_deterministic_and_collision_free():
    names = [sanitize_name(u) for u in HOSTILE]
    assert names == [sanitize_name(u) for u in HOSTILE]
    assert len(set(names)) == len(names)  # "a b" and "a_b" stay distinct
    assert sanitize_name("cell_3") == "cell_3"  # safe names pass unchanged


@given(st.text(max_size=80))
def test_any_text_becomes_one_token_in_the_deck(user):
    name = sanitize_name(user)
    deck = write_ngspice(Netlist(title=user, header=(user,), elements=(
        VSource("in", "a", "0", 1.0), Resistor(name, "a", "0", 1e3))))
    lines = deck.splitlines()
    assert len(lines) == 5  # title, header comment, two elements, .end: nothing injected
    assert lines[1].startswith("* ")
    assert not any(line.lstrip().lower().startswith((".control", "shell")) for line in lines)
    assert lines[3].split()[0] == f"R{name}"


@pytest.mark.parametrize("user", [u for u in HOSTILE if not is_safe_name(u)])
def test_ir_refuses_unsanitized_names(user):
    with pytest.raises(ValueError, match="not a safe netlist name"):
        Resistor(user, "a", "0", 1.0)
    with pytest.raises(ValueError, match="not a safe netlist name"):
        Instance("x1", "sub", ("a", user))
    with pytest.raises(ValueError):
        check_name(user, "name")


def test_include_paths_cannot_break_lines():
    with pytest.raises(ValueError, match="include path"):
        Netlist(title="t", elements=(), includes=("/tmp/x\n.control",))
