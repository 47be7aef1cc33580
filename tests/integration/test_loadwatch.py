"""The smoke test's baseline and import probe, run in this interpreter: which libcrypto/libssl
count as the interpreter's own and which as the package's."""

import json
import os
import sys
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from builder import loadwatch
from builder.smoke import _Installed, _probe, _with_interpreter_openssl


def shared_openssl_of_ssl_module():
    """The libssl/libcrypto sonames this interpreter's _ssl needs; skips where it needs none."""
    import _ssl

    if not getattr(_ssl, "__file__", "").endswith(".so"):
        pytest.skip("this interpreter's _ssl is built in")
    with open(_ssl.__file__, "rb") as module:
        needed = [tag.needed for section in ELFFile(module).iter_sections()
                  if isinstance(section, DynamicSection)
                  for tag in section.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]
    sonames = [name for name in needed if loadwatch.names_openssl(name)]
    if not sonames:
        pytest.skip("this interpreter's _ssl links OpenSSL statically")
    return sonames


def test_the_baseline_names_the_shared_openssl_the_interpreters_ssl_links(tmp_path):
    sonames = shared_openssl_of_ssl_module()
    installed = _with_interpreter_openssl(_Installed((sys.executable, "-I")), tmp_path)
    own = json.loads(installed.env[loadwatch.INTERPRETER_ENV])
    assert all(os.path.isabs(path) for path in own)
    names = [Path(path).name for path in own]
    assert len(names) == len(sonames)
    assert all(any(name.startswith(soname) for name in names) for soname in sonames)


@pytest.mark.parametrize("package,shared", [("quiet", False), ("opens", True)])
def test_the_probe_counts_the_interpreters_openssl_apart_from_the_packages(
        tmp_path, package, shared):
    [libcrypto] = [name for name in shared_openssl_of_ssl_module() if "crypto" in name]
    code = {"quiet": "import hashlib, ssl\n",  # the interpreter's own OpenSSL only
            "opens": "import ctypes\nlib = ctypes.CDLL(%r)\n" % libcrypto}[package]
    site = tmp_path / "site"
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(code)
    python = _Installed((sys.executable, "-s"), env={**os.environ, "PYTHONPATH": str(site)})
    python = _with_interpreter_openssl(python, tmp_path)
    report = _probe(python, tmp_path, [package], None, tmp_path / "log", [])
    assert report["imported"] == [package]
    assert report["loads"]["mapped"], "the interpreter's own OpenSSL is mapped in either case"
    assert bool(loadwatch.problems(report["loads"])) is shared
