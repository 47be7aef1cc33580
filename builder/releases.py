"""The OpenSSL release table: which releases exist, their tarball's sha256 and size, their
series and its end of life. The data lives in data/openssl_releases.toml; this module is the
only reader."""

from __future__ import annotations

import bisect
import datetime as dt
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Dict, List, Optional, Tuple

from builder.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on older Pythons only
    import tomli as tomllib

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)([a-z]*)$")
_SERIES_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True)
class Series:
    """A release series from the release table (builder/data/openssl_releases.toml): its name
    (`3.0`, `1.1.1`), whether it is LTS, and its end of life (None while not announced)."""

    name: str
    lts: bool
    eol: Optional[dt.date]

    def supported_on(self, day: dt.date) -> bool:
        """Whether the series is still supported on `day`: no end of life known, or not past it."""
        return self.eol is None or day <= self.eol


@dataclass(frozen=True)
class Release:
    """One release from the release table (builder/data/openssl_releases.toml): the version, the
    tarball's sha256 (hex; empty for an unlisted release) and size (bytes, None where unknown),
    its series, and whether independent sources agreed on the sha256 (the table's `agree`)."""

    version: str
    sha256: str
    size: Optional[int]
    series: Series
    sources_agree: bool = True

    @property
    def tarball_name(self) -> str:
        """The upstream tarball's file name: `openssl-<version>.tar.gz`."""
        return f"openssl-{self.version}.tar.gz"

    @property
    def sort_key(self) -> Tuple:
        """The version's place in release order (`version_key`)."""
        return version_key(self.version)


def version_key(version: str) -> Tuple:
    """Order release versions: 1.1.1w < 3.0.8 < 3.0.13 < 4.0.0. Returns (major, minor, patch,
    letters); raises ValueError for a string that is not a release version."""
    match = _VERSION_RE.match(version)
    if not match:
        raise ValueError(f"not an OpenSSL release version: {version}")
    major, minor, patch, letters = match.groups()
    return (int(major), int(minor), int(patch), letters)


def series_of(version: str) -> str:
    """The series a release version belongs to: `3.0` for 3.0.13, `1.1.1` for 1.1.1w (before 3.0
    the third number was part of the series). Raises ValueError for a string that is not a
    release version."""
    major, minor, patch, _ = version_key(version)
    # Before 3.0 the third number belonged to the series (1.1.1a, 1.1.1b, ...).
    return f"{major}.{minor}.{patch}" if major < 3 else f"{major}.{minor}"


@dataclass(frozen=True)
class ReleaseTable:
    """The releases (oldest first) and series of builder/data/openssl_releases.toml."""

    releases: Tuple[Release, ...]  # oldest first
    series: Dict[str, Series]

    def get(self, version: str) -> Optional[Release]:
        """The release of exactly `version`; None when the table does not list it."""
        return next((r for r in self.releases if r.version == version), None)

    def newest_of(self, series: str) -> Optional[Release]:
        """The newest listed release of the series named `series`; None when it has none."""
        members = [r for r in self.releases if r.series.name == series]
        return members[-1] if members else None

    def newest_lts(self, today: dt.date) -> Release:
        """The newest release of the newest LTS series still supported on `today`."""
        lts = [s for s in self.series.values() if s.lts and s.supported_on(today)]
        newest_series = max(lts, key=lambda s: tuple(int(n) for n in s.name.split(".")))
        release = self.newest_of(newest_series.name)
        assert release is not None, f"series {newest_series.name} has no release in the table"
        return release

    def supported_newest(self, today: dt.date) -> List[Release]:
        """The newest release of every series still supported on `today`, newest first."""
        found = [self.newest_of(s.name) for s in self.series.values() if s.supported_on(today)]
        return sorted((r for r in found if r is not None), key=lambda r: r.sort_key, reverse=True)

    def resolve(self, spec: Optional[str], today: Optional[dt.date] = None) -> Release:
        """Turn what the user typed (`3.0.13`, `3.0`, `1.1.1w`, nothing) into a release.

        An exact version must be in the table; a series means its newest known patch; no
        spec means the newest patch of the newest supported LTS series. An `openssl-` prefix is
        dropped. Raises InputError for an empty spec or one the table does not know (naming the
        nearest known versions)."""
        today = today or dt.date.today()
        if spec is None:
            return self.newest_lts(today)
        spec = spec.strip()
        if not spec:
            raise InputError("--openssl is empty; give a release (3.0.22) or a series (3.5), "
                             "or leave the option out for the newest LTS release")
        if spec.lower().startswith("openssl-"):
            spec = spec[len("openssl-"):]
        release = self.get(spec)
        if release is not None:
            return release
        if spec in self.series:
            newest = self.newest_of(spec)
            if newest is not None:
                return newest
        raise InputError(
            f"OpenSSL {spec} is not in the release table; nearest known: "
            f"{', '.join(self.nearest(spec))} (see `builder openssl list`)"
        )

    def unlisted(self, spec: str) -> Release:
        """A release the table does not know, to be vouched for by its signature alone (no sha256,
        no size); the table's own release where it does list it. Raises InputError when `spec` is
        not an exact release version."""
        spec = spec.strip()
        if spec.lower().startswith("openssl-"):
            spec = spec[len("openssl-"):]
        try:
            name = series_of(spec)
        except ValueError:
            raise InputError(f"--allow-unlisted needs an exact release version such as 3.0.23, "
                             f"not {spec}") from None
        if self.get(spec) is not None:
            return self.get(spec)  # type: ignore[return-value]
        series = self.series.get(name) or Series(name=name, lts=False, eol=None)
        return Release(version=spec, sha256="", size=None, series=series, sources_agree=False)

    def nearest(self, spec: str, count: int = 3) -> List[str]:
        """Known versions around an unknown one in release order, for the error message."""
        keys = [r.sort_key for r in self.releases]
        at = bisect.bisect(keys, _loose_key(spec))
        start = max(0, min(at - 2, len(keys) - count))
        return [r.version for r in self.releases[start:start + count]]

    def warnings_for(self, release: Release, today: Optional[dt.date] = None) -> List[str]:
        """Why a release is a poor choice (end of life, old patch); empty when it is fine."""
        today = today or dt.date.today()
        notes = []
        if not release.series.supported_on(today):
            notes.append(f"OpenSSL {release.series.name} reached its end of life on "
                         f"{release.series.eol}")
        newest = self.newest_of(release.series.name)
        if newest is not None and newest.version != release.version:
            notes.append(f"{release.version} is not the newest {release.series.name} "
                         f"release ({newest.version} is)")
        if not notes:
            return []
        choices = ", ".join(
            r.version + (" (LTS)" if r.series.lts else "") for r in self.supported_newest(today)
        )
        return [f"{'; '.join(notes)}; newest releases of supported series: {choices}"]


def _loose_key(spec: str) -> Tuple:
    numbers = [int(n) for n in re.findall(r"\d+", spec)[:3]]
    numbers += [0] * (3 - len(numbers))
    letters = "".join(re.findall(r"(?<=\d)([a-z]+)$", spec))
    return (*numbers, letters)


@lru_cache(maxsize=1)
def load_table() -> ReleaseTable:
    """The release table shipped in builder/data/openssl_releases.toml, read once and kept."""
    text = resources.files("builder").joinpath("data/openssl_releases.toml").read_text("utf-8")
    return parse_table(tomllib.loads(text))


def parse_table(data: dict) -> ReleaseTable:
    """A ReleaseTable from the parsed TOML of a release table (`series` and `release` tables),
    releases sorted oldest first, sha256 lower-cased. Raises KeyError for a missing field or an
    unknown series, ValueError for a version that is not a release version."""
    series = {
        name: Series(name=name, lts=bool(info.get("lts", False)), eol=info.get("eol"))
        for name, info in data["series"].items()
    }
    releases = []
    for entry in data["release"]:
        version = entry["version"]
        releases.append(Release(
            version=version,
            sha256=entry["sha256"].lower(),
            size=entry.get("size"),
            series=series[series_of(version)],
            sources_agree=entry.get("agree", True),
        ))
    releases.sort(key=lambda r: r.sort_key)
    return ReleaseTable(releases=tuple(releases), series=series)
