"""The SBOM inside every wheel the builder makes (PEP 770: `<name>.dist-info/sboms/`): a
CycloneDX 1.5 JSON document written with cyclonedx-python-lib, naming the wheel's package as
the primary component and the OpenSSL linked into it as a static component, with the purl,
CPE and tarball sha256 that scanners (grype, trivy, dependency-track) match on."""

from __future__ import annotations

import datetime as dt
import uuid
import zipfile
from pathlib import Path
from typing import List

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot5
from packageurl import PackageURL
from packaging.utils import canonicalize_name, parse_wheel_filename

from builder import __version__
from builder.errors import CheckFailed
from builder.openssl import OpenSSLBuild
from builder.platforms.wheelfiles import rewrite_wheel

SBOM_NAME = "builder-openssl.cdx.json"
_PROPERTY = "builder:openssl"


def openssl_cpe(version: str) -> str:
    """NVD's CPE 2.3 name of an OpenSSL release: cpe:2.3:a:openssl:openssl:3.0.22:*:*:*:*:*:*:*."""
    return f"cpe:2.3:a:openssl:openssl:{version}:*:*:*:*:*:*:*"


def sbom_json(wheel_name: str, openssl: OpenSSLBuild, download_url: str, epoch: int) -> str:
    """The CycloneDX 1.5 JSON document of a wheel (`wheel_name`: its file name, whose name
    and version name the primary component, `pkg:pypi/...`) that links `openssl` statically
    (`pkg:generic/openssl@X?download_url=...`, its CPE, the tarball's sha256, the Configure
    arguments and target as properties). Its serial number comes from the wheel's name and the
    OpenSSL build's key, its timestamp from `epoch` (seconds): two builds of the same inputs
    write the same document."""
    name, version, _, _ = parse_wheel_filename(wheel_name)
    package = Component(
        type=ComponentType.LIBRARY, name=str(name), version=str(version),
        purl=PackageURL(type="pypi", name=str(canonicalize_name(name)), version=str(version)),
        bom_ref=f"pkg:pypi/{canonicalize_name(name)}@{version}")
    purl = PackageURL(type="generic", name="openssl", version=openssl.version,
                      qualifiers={"download_url": download_url})
    properties: List[Property] = [Property(name=f"{_PROPERTY}:linkage", value="static"),
                                  Property(name=f"{_PROPERTY}:target", value=openssl.key.target),
                                  Property(name=f"{_PROPERTY}:cache-key",
                                           value=openssl.key.digest())]
    properties += [Property(name=f"{_PROPERTY}:configure-arg", value=arg)
                   for arg in openssl.configure_args]
    library = Component(
        type=ComponentType.LIBRARY, name="openssl", version=openssl.version,
        group="openssl", purl=purl, cpe=openssl_cpe(openssl.version), bom_ref=purl.to_string(),
        description="linked statically into the wheel's extension modules",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=openssl.tarball_sha256)],
        properties=properties)
    builder = Component(type=ComponentType.APPLICATION, name="builder", version=__version__)
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"{wheel_name}#{openssl.key.digest()}")
    bom = Bom(serial_number=serial, metadata=BomMetaData(
        component=package, timestamp=dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)))
    bom.metadata.tools.components.add(builder)
    bom.components.add(library)
    bom.register_dependency(package, [library])
    return JsonV1Dot5(bom).output_as_string(indent=2) + "\n"


def add_sbom(wheel: Path, text: str, scratch: Path, epoch: int) -> str:
    """Write `text` into the wheel (in place) as `<name>.dist-info/sboms/builder-openssl.cdx.json`,
    beside any SBOM the package's own build wrote, with RECORD rewritten (auditwheel's tools);
    return the member's name. Raises CheckFailed for a wheel without one .dist-info folder."""
    with zipfile.ZipFile(wheel) as archive:
        folders = sorted({n.split("/", 1)[0] for n in archive.namelist()
                          if n.split("/", 1)[0].endswith(".dist-info")})
    if len(folders) != 1:
        raise CheckFailed(f"{wheel.name} holds {len(folders)} .dist-info folders, not one: "
                          f"it is not a wheel its SBOM can be written into")
    member = f"{folders[0]}/sboms/{SBOM_NAME}"

    def write(folder: Path) -> None:
        (folder / member).parent.mkdir(parents=True, exist_ok=True)
        (folder / member).write_bytes(text.encode("utf-8"))  # LF on every host
    rewrite_wheel(wheel, scratch, epoch, write)
    return member
