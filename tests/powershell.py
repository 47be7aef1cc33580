"""PowerShell's grammar (tree-sitter-powershell), for tests on a host without PowerShell.
Import it after `pytest.importorskip("tree_sitter_powershell")`: its wheels need Python 3.10+."""

from __future__ import annotations

from typing import List

import tree_sitter
import tree_sitter_powershell


def parse(source: bytes) -> tree_sitter.Tree:
    """The syntax tree of PowerShell `source`; never raises (errors are ERROR or MISSING nodes)."""
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language())).parse(source)


def syntax_errors(source: bytes) -> List[str]:
    """One line per syntax error, `line L, column C: ...` (both from 1; columns in bytes), in
    the order of the source. The grammar misreads a parameter name that ends in digits
    (`-Sha256 x` is taken for a redirection)."""
    found = []
    pending = [parse(source).root_node]
    while pending:
        node = pending.pop()
        row, column = node.start_point
        where = f"line {row + 1}, column {column + 1}"
        if node.is_missing:
            found.append((node.start_point, f"{where}: missing {node.type!r}"))
        elif node.type == "ERROR":
            text = node.text.decode(errors="replace").splitlines()[0][:40] if node.text else ""
            found.append((node.start_point, f"{where}: cannot parse {text!r}"))
        elif node.has_error:
            pending.extend(node.children)
    return [message for _, message in sorted(found)]
