"""The one sanitizer every user-given name passes before it reaches a netlist.

A SPICE line's meaning is set by its first characters ('.control', '*', '+', an element letter)
and ngspice control blocks can run shell commands. So a name is reduced to
``[a-z][a-z0-9_]*``: it can never contain white space, a newline, a dot, braces, quotes or
operators, and so can never start a line, end one, or reach a parser as anything but a name.
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 48
_IDENT = re.compile(r"[a-z][a-z0-9_]*\Z")
_UNSAFE = re.compile(r"[^a-z0-9_]+")


def is_safe_name(name: str) -> bool:
    """True if ``name`` can be written into a netlist as it is."""
    return isinstance(name, str) and len(name) <= MAX_LENGTH and bool(_IDENT.match(name))


def sanitize_name(user: str, *, prefix: str = "n") -> str:
    """A safe, deterministic identifier for any user string.

    Lower-cased (SPICE is case-insensitive), unsafe runs replaced by ``_``, ``prefix`` added when
    the result would not start with a letter. When anything had to change, a short hash of the
    original is appended, so two different user strings never collide ("a b" vs "a_b").
    """
    if not isinstance(user, str):
        raise TypeError(f"a name must be a string, got {type(user).__name__}")
    if not _IDENT.match(prefix):
        raise ValueError(f"prefix {prefix!r} must itself be a safe name")
    if is_safe_name(user):
        return user
    cleaned = _UNSAFE.sub("_", user.lower()).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"{prefix}_{cleaned}" if cleaned else prefix
    digest = hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cleaned[:MAX_LENGTH - 9]}_{digest}"


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it is safe, else raise naming ``what`` (IR objects call this)."""
    if not is_safe_name(name):
        raise ValueError(f"{what} {name!r} is not a safe netlist name (use netlist_gen.names."
                         "sanitize_name on user input)")
    return name


def check_node(node: str, what: str) -> str:
    """Node names are safe names, or '0' for ground."""
    if node == "0":
        return node
    return check_name(node, what)
