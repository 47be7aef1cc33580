"""`builder audit --rebuild`: each wheel the audit flags built again from the same sdist, for
the same Python and platform tag, with the newest release of its OpenSSL series (or the one
asked for), through the whole `wheel` pipeline; the rebuild carries a local version label
(`+openssl3.5.9`) so that pip takes it, and the old wheel moves to `replaced/`."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from builder import progress
from builder.attest import attestation_path
from builder.context import RunContext
from builder.errors import InputError
from builder.jobs.audit import AuditResult
from builder.jobs.openssl import OpenSSLRequest
from builder.jobs.wheel import WheelRequest, run_wheel
from builder.releases import load_table, series_of
from builder.report import provenance_path, read_provenance

REPLACED = "replaced"


@dataclass(frozen=True)
class Rebuilt:
    """One flagged wheel and what replaced it: the OpenSSL release used and the new wheels."""

    old: str
    openssl: str
    new: List[str]


def flagged(result: AuditResult) -> List[str]:
    """The wheels the audit fails (and, with --strict, warns of): those a rebuild replaces."""
    return result.flagged


def rebuild_requests(result: AuditResult, wheelhouse: Path, openssl: OpenSSLRequest
                     ) -> List[WheelRequest]:
    """The `wheel` request that rebuilds each flagged wheel, from its provenance record: the
    same sdist (a local path that still exists, else NAME==VERSION from the index), the
    interpreter that built it (its path, else its version), the same --plat and run-time
    probe, OpenSSL `openssl.spec` or else the newest release of the series it carried, and a
    local version label. Raises InputError, before anything is built, for a flagged wheel
    without a provenance record (the builder cannot know its sdist)."""
    table = load_table()
    requests = []
    for name in flagged(result):
        record = read_provenance(wheelhouse / name)
        if record is None:
            raise InputError(f"{name} has no provenance record beside it, so its sdist and "
                             f"build are unknown: rebuild it with builder wheel")
        carried = record["openssl"]["version"]
        newest = table.newest_of(series_of(carried))
        spec = openssl.spec or (newest.version if newest else carried)
        smoke = record.get("smoke") or {}
        requests.append(WheelRequest(
            target=_sdist_of(record), openssl=dataclasses.replace(openssl, spec=spec),
            pythons=(_python_of(record),), plat=_plat_of(record), wheelhouse=wheelhouse,
            runtime_probe=smoke.get("runtime_probe"), local_version=True))
    return requests


def rebuild(result: AuditResult, wheelhouse: Path, openssl: OpenSSLRequest,
            ctx: RunContext, sign_key: Optional[Path] = None) -> List[Rebuilt]:
    """Rebuild every flagged wheel (`rebuild_requests`) into the wheelhouse; once its rebuild
    is published, move the old wheel, its record and its attestation into `replaced/` (an
    audit and an index read the wheelhouse's top level alone); `sign_key` signs the new
    attestations. Raises what run_wheel raises: a failed rebuild
    leaves its old wheel in place."""
    done = []
    for name, request in zip(flagged(result), rebuild_requests(result, wheelhouse, openssl)):
        request = dataclasses.replace(request, sign_key=sign_key)
        with progress.stage(f"{name}: rebuild with OpenSSL {request.openssl.spec}"):
            made = run_wheel(request, ctx)
        aside = wheelhouse / REPLACED
        aside.mkdir(exist_ok=True)
        for path in (wheelhouse / name, provenance_path(wheelhouse / name),
                     attestation_path(wheelhouse / name)):
            if path.exists():
                os.replace(path, aside / path.name)
        done.append(Rebuilt(name, made.openssl.version, [w.name for w in made.wheels]))
    return done


def _plat_of(record: dict) -> Optional[str]:
    """The --plat the wheel was built for: the record's own, else (an older record) its tag
    where that is a Windows or macOS one; None for a build for the host (auditwheel chooses
    the manylinux tag again)."""
    if "plat" in record:
        return record["plat"]
    first = str(record.get("tag", "")).split(".")[0]
    return first if first.startswith(("win", "macosx_")) else None


def _sdist_of(record: dict) -> str:
    source = str(record["sdist"]["source"])
    if not re.match(r"^[a-z]+://", source) and Path(source).exists():
        return source
    return f"{record['package']}=={record['version']}"


def _python_of(record: dict) -> str:
    """The interpreter that built the wheel: `cpython 3.13.0 (/path/python)` names its path;
    where that is gone, its version (3.13)."""
    described = str(record["python"])
    match = re.search(r"\((/[^)]+)\)$", described)
    if match and os.access(match.group(1), os.X_OK):
        return match.group(1)
    version: Optional[re.Match] = re.search(r"(\d+)\.(\d+)", described)
    if version is None:
        raise InputError(f"the provenance record names no interpreter ({described!r})")
    return f"{version.group(1)}.{version.group(2)}"
