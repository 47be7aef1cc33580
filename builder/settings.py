"""Settings, resolved once per run: command line > environment > configuration file >
defaults. The configuration file is `[tool.builder]` in the pyproject.toml of a local source
tree being built, else `builder.toml` in the working directory.

`KEYS` is the one table of every setting: its file key, environment variable, command-line
option and default (the README's settings table is written from it).
"""

from __future__ import annotations

import os
import re
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import platformdirs

from builder.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DEFAULT_INDEX = "https://pypi.org/simple"
DEFAULT_DEBIAN_MIRROR = "https://deb.debian.org/debian"
# The wheel's file times when none is set: the zip format's epoch (1980-01-01).
DEFAULT_SOURCE_DATE_EPOCH = 315532800
CONFIG_FILE = "builder.toml"


@dataclass(frozen=True)
class Key:
    """One setting: how a file, the environment and the command line spell it."""

    name: str  # the file key, e.g. "index-url"
    env: str  # the environment variable, e.g. "BUILDER_INDEX_URL"
    option: Optional[str]  # the command-line option, e.g. "--index-url"
    meaning: str
    is_list: bool = False  # lists add up: command line first, then environment, then file


KEYS: Tuple[Key, ...] = (
    Key("cache-dir", "BUILDER_CACHE_DIR", "--cache-dir",
        "cache of tarballs, OpenSSL builds, tools and logs (default: the user cache "
        "directory, ~/.cache/builder on Linux)"),
    Key("index-url", "BUILDER_INDEX_URL", "--index-url",
        f"simple package index for sdists and zig (default {DEFAULT_INDEX}); when set, "
        f"also for the wheels' dependencies (else pip's own configuration decides)"),
    Key("openssl-mirror", "BUILDER_OPENSSL_MIRROR", "--mirror",
        "OpenSSL mirrors tried after upstream, serving openssl-X.tar.gz (environment: "
        "space separated)", is_list=True),
    Key("debian-mirror", "BUILDER_DEBIAN_MIRROR", None,
        f"Debian archive for the emulated interpreter of aarch64 smoke tests (default "
        f"{DEFAULT_DEBIAN_MIRROR})"),
    Key("jobs", "BUILDER_JOBS", "--jobs",
        "compile parallelism of OpenSSL and of the extension's make, CMake and cargo "
        "(default: all cores)"),
    Key("source-date-epoch", "SOURCE_DATE_EPOCH", None,
        f"file times in built wheels, seconds since 1970 (default {DEFAULT_SOURCE_DATE_EPOCH}, "
        f"1980-01-01)"),
    Key("cargo-vendor", "BUILDER_CARGO_VENDOR", "--cargo-vendor",
        "a cargo directory source (as `cargo vendor` makes): Rust builds run offline"),
    Key("remote-cache", "BUILDER_REMOTE_CACHE", "--remote-cache",
        "a store shared between machines for OpenSSL builds, zig and target interpreters: an "
        "OCI registry repository (ghcr.io/ORG/builder-cache), a file:/// directory, or a "
        "read-only http(s):// mirror of one"),
    Key("remote-cache-push", "BUILDER_REMOTE_CACHE_PUSH", "--remote-cache-push",
        "also publish to the remote cache what it lacks (default: pull only)"),
    Key("installer", "BUILDER_INSTALLER", "--installer",
        "who installs into the build's isolated environment and the smoke tests' virtualenvs: "
        "auto (uv when installed, else pip; the default), uv, or pip"),
    Key("sccache", "BUILDER_SCCACHE", "--sccache",
        "compile through sccache (OpenSSL, the extension's C, cargo), its backend set by "
        "sccache's own SCCACHE_* variables"),
)
_BY_NAME: Dict[str, Key] = {key.name: key for key in KEYS}


@dataclass(frozen=True)
class Settings:
    """Every setting of one run, resolved; `origins` says where each came from."""

    cache_dir: Path
    index_url: str = DEFAULT_INDEX
    openssl_mirrors: Tuple[str, ...] = ()
    debian_mirror: str = DEFAULT_DEBIAN_MIRROR
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    source_date_epoch: int = DEFAULT_SOURCE_DATE_EPOCH
    cargo_vendor: Optional[Path] = None
    remote_cache: Optional[str] = None
    remote_cache_push: bool = False
    sccache: bool = False
    installer: str = "auto"
    origins: Mapping[str, str] = field(default_factory=dict)  # "index-url" -> "builder.toml"


def config_file(cwd: Path, project: Optional[Path] = None) -> Optional[Tuple[Path, dict]]:
    """The configuration file that applies and its settings table: the local project's
    pyproject.toml when it has `[tool.builder]`, else `cwd/builder.toml`; None when neither
    exists. Raises InputError for a file that is not valid TOML."""
    if project is not None and (project / "pyproject.toml").is_file():
        pyproject = project / "pyproject.toml"
        tool = _read_toml(pyproject).get("tool", {})
        table = tool.get("builder") if isinstance(tool, dict) else None
        if table is not None:
            if not isinstance(table, dict):
                raise InputError(f"{pyproject}: [tool.builder] must be a table of settings "
                                 f"(known: {', '.join(_BY_NAME)})")
            return pyproject, table
    if (cwd / CONFIG_FILE).is_file():
        return cwd / CONFIG_FILE, _read_toml(cwd / CONFIG_FILE)
    return None


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid TOML ({exc}); fix or remove it") from exc


def resolve(cli: Mapping[str, Any], environ: Mapping[str, str], cwd: Path,
            project: Optional[Path] = None) -> Settings:
    """Resolve every setting once. `cli` maps file keys ("index-url") to what the command
    line gave (None or [] where it gave nothing); `project` is a local source tree being
    built. Raises InputError naming the setting and where it came from for a bad value or
    an unknown file key."""
    found = config_file(cwd, project)
    path, table = found if found is not None else (None, {})
    unknown = sorted(set(table) - set(_BY_NAME))
    if unknown:
        where = " (builder.toml takes its keys at the top level)" if "tool" in unknown else ""
        raise InputError(f"{path}: unknown setting {', '.join(unknown)}{where} (known: "
                         f"{', '.join(_BY_NAME)})")
    values: Dict[str, Any] = {}
    origins: Dict[str, str] = {}
    for key in KEYS:
        layers = [(key.option or "", cli.get(key.name)),
                  (f"${key.env}", _env_value(key, environ.get(key.env))),
                  (str(path), _file_value(key, table.get(key.name), path))]
        given = [(where, value) for where, value in layers if value not in (None, [], ())]
        if not given:
            continue
        if key.is_list:
            values[key.name] = [item for _, value in given for item in value]
            origins[key.name] = " + ".join(where for where, _ in given)
        else:
            origins[key.name], values[key.name] = given[0]
    return _settings(values, origins)


def _env_value(key: Key, text: Optional[str]) -> Any:
    if text is None or not text.strip():
        return None
    return text.split() if key.is_list else text.strip()


def _file_value(key: Key, value: Any, path: Optional[Path]) -> Any:
    if value is None:
        return None
    if key.is_list:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise InputError(f"{key.name} {value!r} (from {path}) is not a URL or a list of "
                             f"URLs; fix it there")
    if key.name in ("cache-dir", "cargo-vendor") and isinstance(value, str) and value.strip() \
            and path:
        value = str(path.parent / Path(value).expanduser())  # relative to the file
    return value


_Check = Callable[[str, Any, str], Any]


def _settings(values: Mapping[str, Any], origins: Mapping[str, str]) -> Settings:
    def get(name: str, check: _Check, default: Any) -> Any:
        if name not in values:
            return default
        return check(name, values[name], origins[name])

    if values.get("remote-cache") is False and origins.get("remote-cache-push") == \
            "--remote-cache-push" and values.get("remote-cache-push") is True:
        raise InputError("--remote-cache-push asks to publish to the remote cache that "
                         "--no-remote-cache switches off: give one of them")
    if os.name == "nt" and get("sccache", _switch, False):
        raise InputError("--sccache is not available on Windows (the builder runs its sccache "
                         "server on a Unix socket, its compilers through shell shims): drop it "
                         "there")
    return Settings(
        cache_dir=get("cache-dir", _path, None) or Path(platformdirs.user_cache_dir("builder")),
        index_url=get("index-url", _url, DEFAULT_INDEX),
        openssl_mirrors=tuple(get("openssl-mirror", _urls, ())),
        debian_mirror=get("debian-mirror", _url, DEFAULT_DEBIAN_MIRROR),
        jobs=get("jobs", _positive, os.cpu_count() or 1),
        source_date_epoch=get("source-date-epoch", _epoch, DEFAULT_SOURCE_DATE_EPOCH),
        cargo_vendor=get("cargo-vendor", _path, None),
        remote_cache=get("remote-cache", _location_or_off, None),
        # Switched off (--no-remote-cache), the remote cache takes a push setting with it.
        remote_cache_push=get("remote-cache-push", _switch, False)
        and values.get("remote-cache") is not False,
        sccache=get("sccache", _switch, False),
        installer=get("installer", _installer, "auto"),
        origins=dict(origins),
    )


def _bad(name: str, value: Any, where: str, wanted: str) -> InputError:
    return InputError(f"{name} {value!r} (from {where}) is not {wanted}; fix it there")


def _path(name: str, value: Any, where: str) -> Path:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise _bad(name, value, where, "a directory path")
    path = Path(value).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise InputError(f"{name} {path} (from {where}) is not a directory; name a directory "
                         f"(new or existing)")
    return path


def _url(name: str, value: Any, where: str) -> str:
    if not isinstance(value, str) or urllib.parse.urlsplit(value).scheme not in ("http", "https") \
            or not urllib.parse.urlsplit(value).netloc:
        raise _bad(name, value, where, "an http:// or https:// URL")
    return value.rstrip("/")


def _urls(name: str, value: Any, where: str) -> Tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise _bad(name, value, where, "a list of URLs")
    return tuple(_url(name, item, where) for item in value)


def _text(name: str, value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, value, where, "a location")
    return value.strip()


def _location_or_off(name: str, value: Any, where: str) -> Optional[str]:
    """A location, or None for `false` (--no-remote-cache, `remote-cache = false`)."""
    return None if value is False else _text(name, value, where)


def _installer(name: str, value: Any, where: str) -> str:
    if value not in ("auto", "uv", "pip"):
        raise _bad(name, value, where, "auto, uv or pip")
    return value


def _switch(name: str, value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise _bad(name, value, where, "true or false (1/0, yes/no)")


def _positive(name: str, value: Any, where: str) -> int:
    number = _whole(value)
    if number is None or number < 1:
        raise _bad(name, value, where, "a positive whole number")
    return number


def _epoch(name: str, value: Any, where: str) -> int:
    number = _whole(value)
    if number is None or number < DEFAULT_SOURCE_DATE_EPOCH:
        raise _bad(name, value, where, f"a whole number of seconds, at least "
                                       f"{DEFAULT_SOURCE_DATE_EPOCH} (zip files start in 1980)")
    return number


def _whole(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return int(value)
    return None


def table_markdown() -> str:
    """The README's settings table: one row per key."""
    rows = ["| file key | environment | command line | meaning |", "|---|---|---|---|"]
    rows += [f"| `{k.name}` | `{k.env}` | {f'`{k.option}`' if k.option else '—'} | {k.meaning} |"
             for k in KEYS]
    return "\n".join(rows)
