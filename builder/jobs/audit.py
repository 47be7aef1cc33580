"""The `audit` job: every wheel of a wheelhouse inspected, and each OpenSSL found judged against
the release table (is its series still supported, is there a newer release of it) and
OpenSSL's own vulnerability records (which advisories affect it, and which release fixes
each)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from securesystemslib.signer import SSlibKey

from builder.advisories import AdvisoryData
from builder.attest import verify_attestation
from builder.cache import Store
from builder.fetch import Expected, cached_download
from builder.index import index_files, index_projects
from builder.errors import CheckFailed, InputError
from builder.jobs.inspect import CarriedOpenSSL, inspect_wheel
from builder.releases import ReleaseTable, series_of, version_key

OK, WARNING, FAIL = "ok", "warning", "fail"
_ORDER = (OK, WARNING, FAIL)


@dataclass(frozen=True)
class AdvisoryHit:
    """One advisory that affects an OpenSSL: its CVE, severity, date (ISO) and the release of
    the same series that fixes it (or why none can be taken)."""

    cve: str
    severity: str
    published: Optional[str]
    fix: str


@dataclass(frozen=True)
class Judgement:
    """The verdict on one OpenSSL inside one wheel: `ok`, `warning` (a newer release of its
    series exists; no advisory names this one) or `fail` (its series has ended, or an
    advisory affects it); each reason in one sentence, and the advisories that affect it."""

    version: Optional[str]
    how: str  # static, bundled, system
    where: str
    verdict: str
    reasons: Tuple[str, ...]
    advisories: Tuple[AdvisoryHit, ...] = ()


@dataclass(frozen=True)
class WheelAudit:
    """One wheel's judgements (none for a wheel that carries no OpenSSL)."""

    wheel: str
    judgements: Tuple[Judgement, ...]

    @property
    def verdict(self) -> str:
        """The worst of its judgements; `ok` for a wheel without OpenSSL."""
        return max((j.verdict for j in self.judgements), key=_ORDER.index, default=OK)


@dataclass(frozen=True)
class AuditResult:
    """The audit of a wheelhouse: each wheel's, which data judged them (where from, the date
    of its newest record), the day they were judged on and whether warnings fail."""

    wheels: Tuple[WheelAudit, ...]
    data_source: str
    data_newest: Optional[dt.date]
    today: dt.date
    strict: bool
    # (wheel, whether its attestation verified, what held or failed), where a key was given
    signatures: Tuple[Tuple[str, bool, str], ...] = ()

    @property
    def flagged(self) -> List[str]:
        """The wheels that fail (and, with `strict`, those with a warning): what a rebuild
        replaces."""
        failing = (FAIL, WARNING) if self.strict else (FAIL,)
        return [w.wheel for w in self.wheels if w.verdict in failing]

    @property
    def exit_code(self) -> int:
        """1 when a wheel is flagged or its attestation does not verify; 0 otherwise."""
        return 1 if self.flagged or any(not ok for _, ok, _ in self.signatures) else 0

    def as_json(self) -> dict:
        """A JSON-ready dict of the whole audit."""
        return {"data": {"source": self.data_source,
                         "newest_record": self.data_newest.isoformat() if self.data_newest
                         else None},
                "today": self.today.isoformat(), "strict": self.strict,
                "exit_code": self.exit_code,
                "wheels": [{"wheel": w.wheel, "verdict": w.verdict,
                            "openssl": [asdict(j) for j in w.judgements]} for w in self.wheels],
                "signatures": [{"wheel": w, "verified": ok, "said": said}
                               for w, ok, said in self.signatures]}


def audit_wheelhouse(folder: Path, table: ReleaseTable, data: AdvisoryData,
                     today: dt.date, strict: bool = False) -> AuditResult:
    """Inspect every wheel in `folder` and judge each OpenSSL it carries (`judge`). Raises
    InputError where `folder` is not a directory holding wheels, CheckFailed for a binary
    that cannot be read."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not a directory; give the wheelhouse's folder")
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        raise InputError(f"{folder} holds no .whl file; give the wheelhouse's folder")
    audits = []
    for wheel in wheels:
        report = inspect_wheel(wheel)
        audits.append(WheelAudit(wheel.name, tuple(judge(o, table, data, today)
                                                   for o in report.openssl)))
    return AuditResult(tuple(audits), data.source, data.newest, today, strict)


_INDEX_ADVICE = "check the index URL, or audit a folder of wheels instead"


def fetch_index_wheels(index_url: str, folder: Path, store: Store) -> Path:
    """Every wheel a simple index (PEP 503/691) lists, downloaded into the store (verified by
    the sha256 the index gives, where it gives one) and linked into `folder`, so that the
    audit reads them as a wheelhouse. Returns `folder`. Raises InputError where the index
    lists no project, BuilderError or VerificationError where a wheel cannot be had."""
    projects = index_projects(index_url, advice=_INDEX_ADVICE)
    if not projects:
        raise InputError(f"{index_url} lists no project; give a simple index's root URL")
    folder.mkdir(parents=True, exist_ok=True)
    for project in projects:
        for file in index_files(index_url, project, (".whl",), advice=_INDEX_ADVICE):
            got = cached_download(store, f"index-wheels/{file.filename}", [file.url],
                                  Expected(file.sha256, gzip=False), label=file.filename,
                                  advice=_INDEX_ADVICE)
            (folder / file.filename).symlink_to(got.path)
    return folder


def with_signatures(result: AuditResult, wheelhouse: Path, key: SSlibKey) -> AuditResult:
    """The audit with each wheel's attestation checked offline against `key`
    (attest.verify_attestation): a wheel without one, unsigned, signed by another key or
    changed since fails."""
    checked = []
    for audit in result.wheels:
        try:
            checked.append((audit.wheel, True, verify_attestation(wheelhouse / audit.wheel, key)))
        except CheckFailed as exc:
            checked.append((audit.wheel, False, exc.message))
    return dataclasses.replace(result, signatures=tuple(checked))


def judge(carried: CarriedOpenSSL, table: ReleaseTable, data: AdvisoryData,
          today: dt.date) -> Judgement:
    """The verdict on one OpenSSL: fail where its series ended before `today` (the release
    table's end of life) or an advisory of `data` affects it; warning where the table
    knows a newer release of its series, where the version is not a release the table can
    place, or where the wheel loads the system's OpenSSL (whose version it cannot say); ok
    otherwise."""
    if carried.version is None:
        return Judgement(None, carried.how, carried.where, WARNING,
                         ("loads the system's OpenSSL: the wheel cannot say which, so it is not "
                          "judged",))
    version = carried.version
    try:
        series_name = series_of(version)
    except ValueError:
        return Judgement(version, carried.how, carried.where, WARNING,
                         (f"{version} is not an OpenSSL release version",))
    reasons: List[str] = []
    verdict = OK
    newest = table.newest_of(series_name)
    series = newest.series if newest else None
    if series is None:
        verdict = WARNING
        reasons.append(f"the release table does not know the {series_name} series")
    elif not series.supported_on(today):
        verdict = FAIL
        reasons.append(f"series {series_name} ended on {series.eol.isoformat()}")
    hits = tuple(AdvisoryHit(a.cve, a.severity,
                             a.published.isoformat() if a.published else None, r.fix())
                 for a, r in data.affecting(version))
    if hits:
        verdict = FAIL
        worst = sorted({h.severity for h in hits}, key=_SEVERITIES.index)[-1]
        reasons.append(f"{len(hits)} advisories affect it (the worst: {worst})")
    if newest is not None and version_key(newest.version) > version_key(version):
        if verdict == OK:
            verdict = WARNING
        reasons.append(f"{newest.version} is the newest release of {series_name}")
    if not reasons:
        reasons.append(f"the newest release of {series_name}, named by no advisory")
    return Judgement(version, carried.how, carried.where, verdict, tuple(reasons), hits)


_SEVERITIES = ("unknown", "Low", "Moderate", "High", "Critical")


def render(result: AuditResult) -> List[str]:
    """The audit as lines for a reader: where the records came from and how new they are, then
    one line per OpenSSL found (wheels without one are counted), then each advisory."""
    newest = result.data_newest.isoformat() if result.data_newest else "unknown"
    lines = [f"OpenSSL's advisories: {result.data_source}; newest record {newest} (nothing "
             f"published later is known to this audit; --vuln-data DIR reads a newer copy)",
             f"judged on {result.today.isoformat()}"
             f"{' (strict: warnings fail)' if result.strict else ''}"]
    without = [w for w in result.wheels if not w.judgements]
    for audit in result.wheels:
        for j in audit.judgements:
            lines.append(f"{j.verdict.upper():<8} {audit.wheel}: OpenSSL "
                         f"{j.version or '(system)'} {j.how} in {j.where}: {'; '.join(j.reasons)}")
            lines += [f"         {h.cve} ({h.severity}, {h.published or 'undated'}): fixed in "
                      f"{h.fix}" for h in j.advisories]
    for wheel, ok, said in result.signatures:
        lines.append(f"{'SIGNED' if ok else 'FAIL':<8} {wheel}: {said}")
    if without:
        lines.append(f"{len(without)} wheels carry no OpenSSL: "
                     f"{', '.join(w.wheel for w in without)}")
    failing = [w.wheel for w in result.wheels if w.verdict == FAIL]
    warned = [w.wheel for w in result.wheels if w.verdict == WARNING]
    lines.append(f"{len(failing)} failing, {len(warned)} with warnings, "
                 f"{len(result.wheels) - len(failing) - len(warned)} ok; exit {result.exit_code}")
    return lines
