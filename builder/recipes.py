"""What the builder knows of specific packages: data in data/recipes.toml, read here, and
the compatibility preflight that data drives."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from builder.errors import InputError
from builder.releases import version_key

if TYPE_CHECKING:
    from builder.target import Target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on older Pythons only
    import tomli as tomllib


@dataclass(frozen=True)
class OpenSSLRange:
    """Releases of a package matching `package` need OpenSSL `openssl_min` or newer."""

    package: SpecifierSet
    openssl_min: str

    def newest_release_line(self) -> Optional[str]:
        """`46.x` for `>=43,<47`; None when the range is open-ended."""
        uppers = [Version(s.version) for s in self.package if s.operator == "<"]
        return f"{uppers[0].major - 1}.x" if uppers else None


@dataclass(frozen=True)
class Recipe:
    """What builder/data/recipes.toml says of one package (the default, all empty, for a package
    it does not list): its run-time version probe, build tools beyond a C compiler, functional
    check script, own test suite, the OpenSSL each release line needs, links into the source
    and build variables."""

    name: str = ""
    runtime_probe: Optional[str] = None
    tools: Tuple[str, ...] = ()
    checks: Optional[str] = None
    test_requirements: Tuple[str, ...] = ()
    test_command: Tuple[str, ...] = ()
    openssl: Tuple[OpenSSLRange, ...] = ()
    # (path inside the unpacked source, part of the static prefix) to link there before the
    # build; and build variables, `{prefix}` standing for the static prefix.
    source_links: Tuple[Tuple[str, str], ...] = ()
    env: Tuple[Tuple[str, str], ...] = ()
    # fnmatch patterns of what an extension module exports beside PyInit_*: functions the
    # package's Python code calls through ctypes.
    module_exports: Tuple[str, ...] = ()
    # (target OS, package versions, patch file in builder/data/patches/): what a cross build
    # for that OS applies to the source first (a setup.py that chooses by the build host).
    target_patches: Tuple[Tuple[str, SpecifierSet, str], ...] = ()
    # (OS, path inside the unpacked source, part of the static prefix): links a native build
    # on that OS makes besides `source_links` (a setup.py naming a library as that OS's
    # prebuilt OpenSSL does).
    native_links: Tuple[Tuple[str, str, str], ...] = ()

    def links_for(self, target: "Target") -> Tuple[Tuple[str, str], ...]:
        """The links to make into the source for a build for `target`: `source_links`, and
        the `native_links` of its OS where it is built natively (not cross-built)."""
        native = () if target.zig else tuple(
            (inside, part) for os_name, inside, part in self.native_links
            if os_name == target.os)
        return (*self.source_links, *native)

    def build_env(self, prefix: Path) -> Dict[str, str]:
        """The recipe's own build variables, with the prefix filled in."""
        return {name: value.format(prefix=prefix) for name, value in self.env}

    def patches_for(self, os_name: str, package_version: str) -> Tuple[Path, ...]:
        """The shipped patches a cross build for `os_name` (macos) applies to this version of
        the package, as files inside the installed builder."""
        version = Version(package_version)
        return tuple(Path(str(resources.files("builder").joinpath(f"data/patches/{name}")))
                     for target_os, versions, name in self.target_patches
                     if target_os == os_name and version in versions)

    def check_openssl(self, package_version: str, openssl_version: str) -> None:
        """Refuse a (package, OpenSSL) pair the package does not support, naming what works:
        raises InputError when the package's release line needs a newer OpenSSL (its
        `openssl_min` in builder/data/recipes.toml)."""
        version = Version(package_version)
        needed = next((r for r in self.openssl if version in r.package), None)
        if needed is None or version_key(openssl_version) >= version_key(needed.openssl_min):
            return
        fits = [r for r in self.openssl
                if version_key(openssl_version) >= version_key(r.openssl_min)]
        newest = max(fits, key=lambda r: _range_floor(r.package), default=None)
        alternative = ""
        if newest is not None and newest.newest_release_line():
            alternative = (f", or {self.name} {newest.newest_release_line()}, the newest "
                           f"that supports OpenSSL {openssl_version}")
        raise InputError(
            f"{self.name} {package_version} does not support OpenSSL {openssl_version}: it "
            f"needs OpenSSL {needed.openssl_min} or newer; use --openssl "
            f"{_series_floor(needed.openssl_min)}+{alternative}")


def _range_floor(spec: SpecifierSet) -> Version:
    floors = [Version(s.version) for s in spec if s.operator in (">=", "==", ">")]
    return max(floors, default=Version("0"))


def _series_floor(openssl_min: str) -> str:
    """`3.0` for 3.0.0, `1.1.1e` stays exact."""
    return openssl_min[:-2] if openssl_min.endswith(".0") else openssl_min


DEFAULT = Recipe()


@lru_cache(maxsize=1)
def load_recipes() -> Dict[str, Recipe]:
    """The recipes of builder/data/recipes.toml by canonical package name, read once and kept."""
    text = resources.files("builder").joinpath("data/recipes.toml").read_text("utf-8")
    return {canonicalize_name(name): _recipe(name, data)
            for name, data in tomllib.loads(text).items()}


def _recipe(name: str, data: dict) -> Recipe:
    return Recipe(
        name=name,
        runtime_probe=data.get("runtime_probe"),
        tools=tuple(data.get("tools", ())),
        checks=data.get("checks"),
        test_requirements=tuple(data.get("test_requirements", ())),
        test_command=tuple(data.get("test_command", ())),
        openssl=tuple(OpenSSLRange(SpecifierSet(r["package"]), r["openssl_min"])
                      for r in data.get("openssl", ())),
        source_links=tuple(sorted(data.get("source_links", {}).items())),
        env=tuple(sorted(data.get("env", {}).items())),
        module_exports=tuple(data.get("module_exports", ())),
        target_patches=tuple((p["os"], SpecifierSet(p["package"]), p["patch"])
                             for p in data.get("target_patches", ())),
        native_links=tuple(sorted((os_name, inside, part)
                                  for os_name, links in data.get("native_links", {}).items()
                                  for inside, part in links.items())),
    )


def recipe_for(package: str) -> Recipe:
    """The recipe of `package` (any spelling of its name); an empty one named after it when
    builder/data/recipes.toml does not list it."""
    name = canonicalize_name(package)
    recipe = load_recipes().get(name)
    return recipe if recipe is not None else Recipe(name=str(name))


def names() -> List[str]:
    """The canonical names of the packages builder/data/recipes.toml lists, sorted."""
    return sorted(load_recipes())
