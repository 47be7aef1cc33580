"""What an sdist's own files tell before anything is built."""

import pytest

from builder.errors import InputError
from builder.sdist_facts import refuse_what_cannot_carry_openssl, scan_sdist
from tests.conftest import text_tarball


def sdist(tmp_path, files):
    path = tmp_path / "demo-1.0.tar.gz"
    files = {"PKG-INFO": "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n", **files}
    return text_tarball(path, {f"demo-1.0/{name}": text for name, text in files.items()})


@pytest.mark.parametrize("files", [
    {"src/m.c": "#include <openssl/evp.h>\n"},
    {"src/m.hxx": '#include "openssl/ssl.h"\n', "src/m.cxx": "int x;\n"},
    {"build_ffi.py": 'ffi.set_source("_x", "#include <openssl/sha.h>")\n'},  # cffi API mode
    {"setup.py": "Extension('m', ['m.c'], libraries=[\n    'ssl',\n    'crypto'])\n",
     "m.c": "int x;\n"},
    {"Cargo.toml": "[package]\nname = 'x'\n\n[dependencies.openssl]\nversion = '0.10'\n"},
    {"Cargo.toml": "[package]\nname = 'x'\n", "Cargo.lock": 'name = "openssl-sys"\n'},
])
def test_a_package_that_uses_openssl_passes_the_scan(tmp_path, files):
    refuse_what_cannot_carry_openssl("demo", scan_sdist(sdist(tmp_path, files)))


@pytest.mark.parametrize("files, phrase", [
    ({"m.c": "int x;\n"}, "does not use OpenSSL"),
    ({"demo/__init__.py": "import ssl\n"}, "builds no extension module"),
    ({"m.c": "typedef struct { int x; } PySSLContext;\n#include <openssl/ssl.h>\n"},
     "m.c:1"),
])
def test_a_package_that_cannot_carry_its_own_openssl_is_refused(tmp_path, files, phrase):
    with pytest.raises(InputError, match=phrase):
        refuse_what_cannot_carry_openssl("demo", scan_sdist(sdist(tmp_path, files)))
