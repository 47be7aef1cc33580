"""The SBOM the builder writes into each wheel: valid CycloneDX 1.5 by the library's own schema
validator, naming the package (`pkg:pypi`) and its static OpenSSL (purl, CPE, tarball sha256,
Configure arguments), the same for the same inputs, and findable by a CPE match against
OpenSSL's own vulnerability records."""

import json
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from builder.advisories import load_advisories
from builder.openssl import CacheKey, OpenSSLBuild
from builder.sbom import openssl_cpe, sbom_json

SHA = "67ebca7e50d17383028045486653492195b83db95f8558709701bb47b5c1ef81"
URL = "https://www.openssl.org/source/openssl-3.0.7.tar.gz"
WHEEL = "scrypt-0.9.4-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def build(version="3.0.7") -> OpenSSLBuild:
    flags = ("no-shared", "-fPIC", "no-ssl3", "--prefix=/opt/builder/openssl")
    key = CacheKey(version, SHA, flags, "r" * 64, "gcc 12", "x86_64-linux-gnu")
    return OpenSSLBuild(version, Path("/cache/o"), key, flags, SHA, URL, False, Path("/l"))


def document(version="3.0.7") -> dict:
    return json.loads(sbom_json(WHEEL, build(version), URL, 315532800))


def test_the_sbom_is_valid_cyclonedx_1_5():
    errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(
        sbom_json(WHEEL, build(), URL, 315532800))
    assert errors is None, errors


def test_the_sbom_names_the_package_and_its_static_openssl():
    doc = document()
    assert doc["metadata"]["component"]["purl"] == "pkg:pypi/scrypt@0.9.4"
    [openssl] = doc["components"]
    assert openssl["purl"] == ("pkg:generic/openssl@3.0.7?download_url="
                               "https://www.openssl.org/source/openssl-3.0.7.tar.gz")
    assert openssl["cpe"] == "cpe:2.3:a:openssl:openssl:3.0.7:*:*:*:*:*:*:*"
    assert openssl["hashes"] == [{"alg": "SHA-256", "content": SHA}]
    properties = [(p["name"], p["value"]) for p in openssl["properties"]]
    assert ("builder:openssl:linkage", "static") in properties
    assert ("builder:openssl:configure-arg", "no-ssl3") in properties
    [dependency] = [d for d in doc["dependencies"] if d["ref"] == "pkg:pypi/scrypt@0.9.4"]
    assert dependency["dependsOn"] == [openssl["bom-ref"]]
    assert doc["metadata"]["timestamp"].startswith("1980-01-01")


def test_the_same_inputs_write_the_same_sbom():
    assert sbom_json(WHEEL, build(), URL, 315532800) == sbom_json(WHEEL, build(), URL, 315532800)
    assert document("3.0.7")["serialNumber"] != document("3.0.8")["serialNumber"]


def test_a_cpe_match_against_openssls_records_finds_the_advisories_of_the_sboms_openssl():
    [openssl] = document("3.0.7")["components"]
    # What a CPE-keyed scanner does: take the version from the CPE, ask the records.
    vendor, product, version = openssl["cpe"].split(":")[3:6]
    assert (vendor, product) == ("openssl", "openssl")
    found = {a.cve for a, _ in load_advisories().affecting(version)}
    assert "CVE-2022-3996" in found and len(found) >= 40
    assert openssl_cpe("1.1.1w").split(":")[5] == "1.1.1w"
