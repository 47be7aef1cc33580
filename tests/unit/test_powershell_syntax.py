"""The PowerShell recipe parses. This host has no PowerShell: tree-sitter's PowerShell grammar
reads the script in this process, and each ERROR or MISSING node is a syntax error, named by
line and column."""

import pytest

from tests.conftest import ROOT

pytest.importorskip("tree_sitter_powershell", reason="tree-sitter-powershell needs Python 3.10+")
from tests.powershell import syntax_errors  # noqa: E402  (after the skip above)


def test_the_powershell_recipe_has_no_syntax_error():
    errors = syntax_errors((ROOT / "scripts" / "build_openssl.ps1").read_bytes())
    assert not errors, "scripts/build_openssl.ps1:\n" + "\n".join(errors)


@pytest.mark.parametrize("snippet, errors", [
    (b'$a = 1\nif ($a -eq 1) {\n    Write-Host "one"\n', ["line 3, column 21: missing '}'"]),
    (b'$ok = 1\nfunction Get-It( { }\n', ["line 2, column 16: cannot parse '('"]),
])
def test_a_broken_script_is_reported_by_line_and_column(snippet, errors):
    assert syntax_errors(snippet) == errors
