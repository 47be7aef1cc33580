"""OpenSSL's own vulnerability records (CVE JSON 5.0, as the OpenSSL project publishes them in
its release-metadata repository's `secjson/`): which releases each advisory affects, its
severity, and the release of each series that fixes it. A snapshot ships in
builder/data/openssl-advisories/ (see its README); a newer copy of the same folder can be
given instead. This module is the only reader."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import List, Optional, Tuple

from builder.errors import InputError
from builder.releases import series_of, version_key

# Fixes of these series after these releases are premium-support releases, not public
# (the records' own README says so): such a fix is "no public fix".
LAST_PUBLIC = {"1.1.1": "1.1.1w", "1.0.2": "1.0.2u"}


@dataclass(frozen=True)
class AffectedRange:
    """One `versions[]` entry of a record: the first affected release of a series, and the
    first that is fixed (`lessThan`) or the last that is affected (`lessThanOrEqual`, where
    the record names no fix)."""

    introduced: str
    fixed: Optional[str] = None
    last_affected: Optional[str] = None

    def holds(self, version: str) -> bool:
        """Whether `version` (3.0.13, 1.1.1w) is in the range: of the same series, at or after
        its first affected release and before the fix (or at most the last affected one).
        Letter releases sort by their letters (`version_key`)."""
        if series_of(version) != series_of(self.introduced):
            return False
        key = version_key(version)
        if key < version_key(self.introduced):
            return False
        if self.fixed is not None:
            return key < version_key(self.fixed)
        return self.last_affected is not None and key <= version_key(self.last_affected)

    def fix(self) -> str:
        """The release that fixes it in its series, or why there is none to take."""
        if self.fixed is None:
            return f"no fixed release named (affected up to {self.last_affected})"
        last = LAST_PUBLIC.get(series_of(self.fixed))
        if last is not None and version_key(self.fixed) > version_key(last):
            return f"no public fix ({self.fixed} is a premium-support release)"
        return self.fixed


@dataclass(frozen=True)
class Advisory:
    """One vulnerability record: its CVE, severity (Low, Moderate, High, Critical; `unknown`
    where the record gives none), advisory date and title, and the ranges it affects."""

    cve: str
    severity: str
    published: Optional[dt.date]
    title: str
    ranges: Tuple[AffectedRange, ...]

    def range_holding(self, version: str) -> Optional[AffectedRange]:
        """The range that holds `version`; None when the advisory does not affect it."""
        return next((r for r in self.ranges if r.holds(version)), None)


@dataclass(frozen=True)
class AdvisoryData:
    """Every record of one copy of the data, where it came from, and its date: that of its
    newest advisory (nothing published later is in it)."""

    advisories: Tuple[Advisory, ...]
    source: str
    newest: Optional[dt.date]

    def affecting(self, version: str) -> List[Tuple[Advisory, AffectedRange]]:
        """Every advisory that affects `version`, with its range; newest first."""
        found = [(a, r) for a in self.advisories for r in [a.range_holding(version)] if r]
        return sorted(found, key=lambda pair: pair[0].published or dt.date.min, reverse=True)


def shipped_folder() -> Path:
    """The snapshot shipped with the builder (builder/data/openssl-advisories/secjson)."""
    return Path(str(resources.files("builder").joinpath("data/openssl-advisories/secjson")))


def load_advisories(folder: Optional[Path] = None) -> AdvisoryData:
    """The records of `folder` (a copy of the release-metadata repository's `secjson/`, or
    the repository itself), else the shipped snapshot. Raises InputError for a folder that
    holds no CVE record or one that cannot be read."""
    if folder is None:
        return _shipped()
    folder = folder / "secjson" if (folder / "secjson").is_dir() else folder
    return _load(folder.resolve(), f"--vuln-data {folder}")


@lru_cache(maxsize=1)
def _shipped() -> AdvisoryData:
    return _load(shipped_folder(), "the snapshot shipped with the builder")


def _load(folder: Path, source: str) -> AdvisoryData:
    files = sorted(folder.glob("CVE-*.json")) if folder.is_dir() else []
    if not files:
        raise InputError(f"{source}: no CVE-*.json records in {folder}; point --vuln-data at a "
                         f"copy of OpenSSL's release-metadata repository (or its secjson/)")
    advisories = []
    for path in files:
        try:
            advisories.append(parse_record(json.loads(path.read_text("utf-8"))))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{path} is not a CVE JSON 5.0 record the builder can read "
                             f"({exc}); point --vuln-data at OpenSSL's own records") from exc
    dates = [a.published for a in advisories if a.published]
    return AdvisoryData(tuple(advisories), f"{source} ({folder})", max(dates, default=None))


def parse_record(record: dict) -> Advisory:
    """One CVE JSON 5.0 record as OpenSSL writes it; a range naming a pre-release
    (0.9.7-beta3) is left out. Raises KeyError, ValueError, TypeError or AttributeError for a
    document of another shape (no CVE id, an unreadable date, a string where an object
    belongs)."""
    cna = record["containers"]["cna"]
    ranges = []
    for product in cna.get("affected", []):
        for entry in product.get("versions", []):
            bounds = [entry["version"], *(entry[b] for b in ("lessThan", "lessThanOrEqual")
                                          if b in entry)]
            # A range between pre-releases (0.9.7-beta3) holds no release a wheel carries.
            if entry.get("status") != "affected" or not all(map(_is_release, bounds)):
                continue
            ranges.append(AffectedRange(entry["version"], entry.get("lessThan"),
                                        entry.get("lessThanOrEqual")))
    severities = [m.get("other", {}).get("content", {}).get("text", "")
                  for m in cna.get("metrics", [])]
    severity = next((s.capitalize() for s in severities if s and s.lower() != "unknown"),
                    "unknown")
    published = cna.get("datePublic")
    return Advisory(
        cve=record["cveMetadata"]["cveId"],
        severity=severity,
        published=dt.date.fromisoformat(published[:10]) if published else None,
        title=cna.get("title", ""),
        ranges=tuple(ranges),
    )


def _is_release(version: str) -> bool:
    try:
        version_key(version)
    except ValueError:
        return False
    return True
