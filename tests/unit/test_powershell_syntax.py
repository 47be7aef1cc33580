"""The PowerShell recipe parses. This host has no PowerShell: tree-sitter's PowerShell grammar
reads the script in this process, and each ERROR or MISSING node is a syntax error, named by
line and column."""

from typing import List

import pytest

from tests.conftest import ROOT

tree_sitter = pytest.importorskip("tree_sitter", reason="tree-sitter needs Python 3.10+")
tree_sitter_powershell = pytest.importorskip("tree_sitter_powershell",
                                             reason="tree-sitter-powershell needs Python 3.10+")


def syntax_errors(source: bytes) -> List[str]:
    """One line per syntax error, `line L, column C: ...` (both from 1; columns in bytes), in
    the order of the source."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    found = []
    pending = [parser.parse(source).root_node]
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


def test_the_powershell_recipe_has_no_syntax_error():
    errors = syntax_errors((ROOT / "scripts" / "build_openssl.ps1").read_bytes())
    assert not errors, "scripts/build_openssl.ps1:\n" + "\n".join(errors)


@pytest.mark.parametrize("snippet, errors", [
    (b'$a = 1\nif ($a -eq 1) {\n    Write-Host "one"\n', ["line 3, column 21: missing '}'"]),
    (b'$ok = 1\nfunction Get-It( { }\n', ["line 2, column 16: cannot parse '('"]),
])
def test_a_broken_script_is_reported_by_line_and_column(snippet, errors):
    assert syntax_errors(snippet) == errors
