"""The `inspect` job: what any wheel (built here or not) carries of OpenSSL, and how, read from
its binaries alone; with the provenance record beside it and the SBOMs inside it where
present."""

from __future__ import annotations

import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import List, Optional, Sequence

from packaging.utils import parse_wheel_filename

from builder.platforms import Platform, platform_of_wheel
from builder.report import read_provenance
from builder.smoke import check_is_wheel

# PEP 770: a wheel's SBOMs live in <name>.dist-info/sboms/.
_SBOM_FOLDER = ".dist-info/sboms/"


@dataclass(frozen=True)
class CarriedOpenSSL:
    """One OpenSSL a wheel carries or needs: its version (None where only its name is known),
    how (`static`: linked into the binary, its version text inside; `bundled`: a shared
    libssl/libcrypto shipped in the wheel, grafted by a repair tool; `system`: a shared one the
    binary loads from the system it runs on) and where (the member, or the library's name)."""

    version: Optional[str]
    how: str
    where: str


@dataclass(frozen=True)
class WheelReport:
    """What `builder inspect` says of one wheel: its file name, tags, platform (the binaries'
    format), each binary in one line, each OpenSSL found, the provenance record beside it
    (None without one) and the SBOM files inside it (member names)."""

    wheel: str
    tags: List[str]
    binary_format: str
    binaries: List[str]
    openssl: List[CarriedOpenSSL]
    provenance: Optional[dict] = None
    sboms: List[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """A JSON-ready dict of the report."""
        return asdict(self)

    def versions(self) -> List[str]:
        """The distinct OpenSSL versions it carries, static or bundled, sorted."""
        return sorted({o.version for o in self.openssl if o.version})


def inspect_wheels(wheels: Sequence[Path]) -> List[WheelReport]:
    """The report of each wheel. Raises InputError for a path that is not a wheel (before any
    is read), CheckFailed for a binary its platform's reader cannot read."""
    for wheel in wheels:
        check_is_wheel(wheel)
    return [inspect_wheel(wheel) for wheel in wheels]


def inspect_wheel(wheel: Path) -> WheelReport:
    """What one wheel carries (see WheelReport); its platform comes from its tags."""
    platform = platform_of_wheel(wheel)
    facts = list(platform.inspect_wheel(wheel))
    _, _, _, tags = parse_wheel_filename(wheel.name)
    with zipfile.ZipFile(wheel) as archive:
        sboms = sorted(n for n in archive.namelist()
                       if _SBOM_FOLDER in n and not n.endswith("/"))
    return WheelReport(
        wheel=wheel.name,
        tags=sorted(str(t) for t in tags),
        binary_format=platform.binary_format,
        binaries=[f.describe() for f in facts],
        openssl=carried_openssl(platform, facts),
        provenance=read_provenance(wheel),
        sboms=sboms,
    )


def carried_openssl(platform: Platform, facts: Sequence) -> List[CarriedOpenSSL]:
    """Each OpenSSL the binaries carry or need: a shared libssl/libcrypto in the wheel is
    `bundled` (its version from its own text); a version text in any other binary is `static`;
    a shared one a binary needs that the wheel does not hold is `system`."""
    found: List[CarriedOpenSSL] = []
    shipped = {PurePosixPath(f.name).name for f in facts}
    for binary in facts:
        name = PurePosixPath(binary.name).name
        bundled = bool(platform.shared_openssl.search(name))
        for version in binary.openssl_versions:
            found.append(CarriedOpenSSL(version, "bundled" if bundled else "static",
                                        binary.name))
        for needed in binary.needed:
            if platform.shared_openssl.search(needed) and \
                    PurePosixPath(needed).name not in shipped:
                found.append(CarriedOpenSSL(None, "system", f"{binary.name} needs {needed}"))
    return list(dict.fromkeys(found))


def render(report: WheelReport) -> List[str]:
    """The report as lines for a reader."""
    lines = [report.wheel, f"  tags: {', '.join(report.tags)}",
             f"  binaries ({report.binary_format}):"]
    lines += [f"    {line}" for line in report.binaries] or ["    none"]
    lines.append("  OpenSSL:")
    lines += [f"    {o.version or 'unknown version'}: {o.how} ({o.where})"
              for o in report.openssl] or ["    none"]
    record = report.provenance
    built_with = (record.get("openssl") or {}).get("version", "?") if record else None
    lines.append(f"  provenance: OpenSSL {built_with}, built by builder "
                 f"{record.get('builder', '?')} at {record.get('built_at', '?')}"
                 if record else "  provenance: none beside it")
    lines.append(f"  SBOM: {', '.join(report.sboms)}" if report.sboms else "  SBOM: none")
    return lines
