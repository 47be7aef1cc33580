"""The provenance record beside each wheel, and the summary at the end of a run."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from builder import __version__
from builder.errors import InputError
from builder.wheel_build import BuiltWheel
from builder.openssl import OpenSSLBuild
from builder.repair import RepairedWheel
from builder.smoke import SmokeResult
from builder.fetch import sha256_file

PROVENANCE_SUFFIX = ".provenance.json"


def provenance_path(wheel: Path) -> Path:
    """Where the provenance record of `wheel` goes: beside it, `<wheel name>.provenance.json`."""
    return wheel.with_name(wheel.name + PROVENANCE_SUFFIX)


def make_provenance(built: BuiltWheel, repaired: RepairedWheel, openssl: OpenSSLBuild,
                    smoke: SmokeResult, smoked_on: Sequence[SmokeResult] = (),
                    downloads: Sequence[Tuple[str, str]] = ()) -> dict:
    """The provenance record of one wheel, a JSON-ready dict: package, sdist, wheel sha256 and
    tag, the checks it passed, interpreters, OpenSSL build (`OpenSSLBuild.record`), compiler,
    smoke results (`not_run` with its reason where none could run here), the builder's
    version and the time (UTC).

    `smoke`: the test with the interpreter that built it; `smoked_on`: every interpreter
    it was tested with (an abi3 wheel serves several); `downloads`: (file, sha256) of what
    the toolchain was made from (zig's wheel)."""
    return {
        "package": built.sdist.name,
        "version": built.sdist.version,
        "wheel": repaired.path.name,
        "wheel_sha256": sha256_file(repaired.path),
        "tag": repaired.tag,
        # What --plat asked for (None: the host's own build): what a rebuild asks again.
        "plat": built.target_plat,
        "checks_passed": list(repaired.checks),
        "sbom": repaired.sbom,
        "python": built.python.build.describe(),
        **({"target_python": {"describe": built.python.emulated.describe(),
                              "packages": list(built.python.emulated.packages)}}
           if built.python.emulated is not None else {}),
        "sdist": {"sha256": built.sdist.sha256, "source": built.sdist.origin,
                  **built.source_changes},
        "openssl": openssl.record(),
        "compiler": openssl.key.compiler,
        "toolchain_downloads": [{"file": name, "sha256": digest} for name, digest in downloads],
        "smoke": smoke.record(),
        "smoked_on": [{"python": s.python, "passed": s.record()["passed"], "seconds": s.seconds,
                       "runtime_version": s.runtime_version,
                       **({"not_run": s.not_run} if s.not_run else {})}
                      for s in (smoked_on or [smoke])],
        "builder": __version__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json_atomically(path: Path, data: dict) -> None:
    """Write `data` as indented JSON to `path` through a temporary beside it and a rename, so a
    reader sees the old file or the new one, never part of one."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_bytes((json.dumps(data, indent=2) + "\n").encode())  # LF on every host
    os.replace(temp, path)


def read_provenance(wheel: Path) -> Optional[dict]:
    """The provenance record beside `wheel`, parsed; None when there is none. Raises
    InputError when the file is not a JSON object."""
    path = provenance_path(wheel)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a provenance record (not JSON: {exc}); remove it or "
                         f"restore the one the builder wrote") from exc
    if not isinstance(record, dict):
        raise InputError(f"{path} is not a provenance record (not a JSON object); remove it "
                         f"or restore the one the builder wrote")
    return record


def summary(rows: List[dict], openssl: OpenSSLBuild, elapsed: str) -> str:
    """One screen: what was built, against what, where it is."""
    reuse = (f"pulled from {openssl.pulled_from}" if openssl.pulled_from
             else "reused from cache" if openssl.reused else "built now")
    lines = [
        "",
        f"OpenSSL {openssl.version} ({reuse}): {openssl.prefix}",
        f"{'wheel':<60} {'smoke':<8} {'time':>6}  python",
    ]
    for row in rows:
        for smoke in row.get("smoked_on") or [row["smoke"]]:
            verdict = "not run" if smoke.get("not_run") else \
                "passed" if smoke["passed"] else "FAILED"
            python = smoke["python"].split(" (")[0]
            lines.append(f"{row['wheel']:<60} {verdict:<8} {smoke['seconds']:>5.1f}s  {python}")
    lines.append(f"total {elapsed}")
    return "\n".join(lines)
