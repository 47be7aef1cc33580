"""Any OpenSSL binding links statically: OpenSSL's internals are renamed out of its way, and
the wheelhouse holds everything it installs with."""

import json
import subprocess
import tarfile

import pytest

from builder.openssl import NAMESPACE_PREFIX
from tests.conftest import FIXTURES, shared_tarball
from tests.e2e.conftest import fresh_venv, python_says, wheels_in

pytestmark = pytest.mark.slow


def public_api(version):
    """The names OpenSSL exports from its shared libraries: util/libcrypto.num, libssl.num."""
    names = set()
    with tarfile.open(shared_tarball(version)) as archive:
        for library in ("libcrypto", "libssl"):
            member = archive.extractfile(f"openssl-{version}/util/{library}.num")
            names |= {line.split()[0] for line in member.read().decode().splitlines()
                      if line.strip() and not line.startswith("#")}
    return names


def defined_globals(prefix):
    listing = subprocess.run(["nm", "-g", "--defined-only", "--format=posix",
                              str(prefix / "lib" / "libcrypto.a"),
                              str(prefix / "lib" / "libssl.a")],
                             check=True, capture_output=True, text=True).stdout
    return {line.split()[0] for line in listing.splitlines()
            if line and not line.endswith(":") and len(line.split()) >= 2}


@pytest.mark.parametrize("version", ["3.0.22", "3.5.7"])
def test_the_archives_define_only_public_api_names_and_prefixed_internals(openssl_prefix,
                                                                          version):
    prefix = openssl_prefix(version)
    defined, public = defined_globals(prefix), public_api(version)
    renamed = {name for name in defined if name.startswith(NAMESPACE_PREFIX)}
    assert defined - renamed <= public
    assert not {name[len(NAMESPACE_PREFIX):] for name in renamed} & public
    assert len(renamed) > 2000  # about 3,000 internals in 3.0
    record = json.loads((prefix / "build.json").read_text())
    assert record["renamed_symbols"] == len(renamed)
    assert record["key"]["namespace"] == NAMESPACE_PREFIX


def test_an_extension_defining_a_name_internal_to_libssl_links_and_both_work(builder_cli,
                                                                          tmp_path):
    done = builder_cli(str(FIXTURES / "collider"), "3.0.22",
                       "--version-probe", "collider:openssl_version")
    assert done.returncode == 0, done.stderr[-3000:]
    python = fresh_venv(tmp_path / "venv", tmp_path / "wheelhouse", "collider")
    assert python_says(python, "import collider; print(collider.own(), collider.tls_context(),"
                               " collider.openssl_version().split()[1])") == "42 True 3.0.22"


@pytest.fixture(scope="session")
def m2crypto_wheelhouse(wheelhouse):
    """`m2crypto_wheelhouse("3.5.7")`: M2Crypto 0.51.0 from PyPI, built once per version."""

    def get(version):
        done, folder = wheelhouse("M2Crypto==0.51.0", version)
        assert done.returncode == 0, done.stderr[-3000:]
        return folder

    return get


@pytest.mark.parametrize("version", ["3.0.22", "3.5.7"])
def test_m2crypto_links_static_and_passes_its_smoke_test(m2crypto_wheelhouse, version):
    [wheel] = [w for w in wheels_in(m2crypto_wheelhouse(version))
               if w.name.lower().startswith("m2crypto-")]
    record = json.loads(wheel.with_name(wheel.name + ".provenance.json").read_text())
    assert record["smoke"]["passed"]
    assert record["smoke"]["runtime_version"] == version
    assert record["smoke"]["checks"]["alone"]["compiled"].startswith(f"OpenSSL {version} ")
    carried = [v for v in record["smoke"]["embedded_versions"].values() if v]
    assert carried and all(v == [version] for v in carried)
    assert record["openssl"]["namespace"]["renamed_symbols"] > 2000


def test_the_wheelhouse_alone_installs_m2crypto_with_its_dependencies(m2crypto_wheelhouse,
                                                                       tmp_path):
    wheelhouse = m2crypto_wheelhouse("3.0.22")
    names = {w.name.split("-")[0].lower() for w in wheels_in(wheelhouse)}
    assert "packaging" in names
    python = fresh_venv(tmp_path / "venv", wheelhouse, "M2Crypto")
    assert python_says(python, "from M2Crypto import EVP; d = EVP.MessageDigest('sha1'); "
                               "d.update(b'abc'); print(d.final().hex())") == \
        "a9993e364706816aba3e25717850c26c9cd0d89d"
