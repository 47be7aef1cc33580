"""Static OpenSSL builds: run the shared recipe (scripts/build_openssl.sh) once per cache key
and publish the installed prefix (headers, static archives, pkg-config files) atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import FrozenSet, List, Optional, Tuple

from builder import progress
from builder.cache import locked, note_process_group, publishing, temp_sibling
from builder.context import RunContext
from builder.errors import InputError
from builder.runner import call, capture
from builder.sources import VerifiedTarball
from builder.toolchain import Toolchain, require_tools

DEFAULT_OPENSSLDIR = "/etc/ssl"
RECORD = "build.json"
SYMBOLS = "defined-symbols.txt"
_PREFIX_PLACEHOLDER = "/PREFIX"


def recipe_path() -> Path:
    """The build recipe, shipped inside the package (scripts/build_openssl.sh in the repo)."""
    return Path(str(resources.files("builder").joinpath("recipe/build_openssl.sh")))


# The recipe's prefix for OpenSSL's internal symbols (scripts/build_openssl.sh).
NAMESPACE_PREFIX = "builder_"


@dataclass(frozen=True)
class BuildOptions:
    openssldir: str = DEFAULT_OPENSSLDIR
    configure_args: Tuple[str, ...] = ()
    namespace: bool = True  # rename OpenSSL's non-public globals in the static archives


@dataclass(frozen=True)
class CacheKey:
    """Everything a static OpenSSL build depends on; equal keys mean interchangeable builds."""

    version: str
    sha256: str
    flags: Tuple[str, ...]  # ./Configure arguments except --prefix
    recipe: str  # sha256 of the recipe script
    compiler: str
    target: str
    namespace: str = NAMESPACE_PREFIX  # "" when the internals keep their names

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def entry_name(self) -> str:
        return f"openssl-{self.version}-{self.digest()}"


@dataclass(frozen=True)
class OpenSSLBuild:
    version: str
    prefix: Path
    key: CacheKey
    configure_args: Tuple[str, ...]
    tarball_sha256: str
    origin: str
    reused: bool
    log: Path
    signature: Optional[dict] = None  # OpenSSL's signature of the tarball, when checked
    renamed_symbols: int = 0  # internal globals given the namespace prefix

    @property
    def include_dir(self) -> Path:
        return self.prefix / "include"

    @property
    def lib_dir(self) -> Path:
        return self.prefix / "lib"

    def defined_symbols(self) -> FrozenSet[str]:
        """Every global symbol the static archives define: none may leave an extension."""
        listed = self.prefix / SYMBOLS
        if listed.is_file():
            return frozenset(listed.read_text().split())
        return archive_symbols(self.lib_dir)

    def record(self) -> dict:
        return {
            "version": self.version,
            "tarball_sha256": self.tarball_sha256,
            "source": self.origin,
            "configure_args": list(self.configure_args),
            "compiler": self.key.compiler,
            "target": self.key.target,
            "cache_key": self.key.digest(),
            "namespace": {"prefix": self.key.namespace, "renamed_symbols": self.renamed_symbols}
            if self.key.namespace else None,
            **({"signature": self.signature} if self.signature else {}),
        }


def recipe_options(options: BuildOptions, toolchain: Toolchain) -> List[str]:
    """The recipe's options that shape the build (and so its ./Configure arguments)."""
    args = ["--openssldir", options.openssldir]
    for extra in options.configure_args:
        args += ["--configure-arg", extra]
    if toolchain.openssl_target:
        args += ["--target", toolchain.openssl_target]
    if not options.namespace:
        args.append("--no-namespace")
    return args


def configure_args(tarball: VerifiedTarball, prefix: str, options: BuildOptions,
                   toolchain: Toolchain) -> List[str]:
    """Ask the recipe which ./Configure arguments it uses for this release."""
    args = [str(recipe_path()), "--print-flags", "--tarball", str(tarball.path),
            *recipe_options(options, toolchain)]
    return capture(["bash", *args, tarball.release.version, prefix]).split("\n")[:-1]


def cache_key(tarball: VerifiedTarball, toolchain: Toolchain, options: BuildOptions) -> CacheKey:
    flags = configure_args(tarball, _PREFIX_PLACEHOLDER, options, toolchain)
    return CacheKey(
        version=tarball.release.version,
        sha256=tarball.release.sha256,
        flags=tuple(f for f in flags if not f.startswith("--prefix=")),
        recipe=hashlib.sha256(recipe_path().read_bytes()).hexdigest(),
        compiler=toolchain.identity,
        target=toolchain.triple,
        namespace=NAMESPACE_PREFIX if options.namespace else "",
    )


def find_cached(cache: Path, version: str) -> List[Path]:
    """Complete cached builds of one version (any key)."""
    root = cache / "openssl"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob(f"openssl-{version}-*") if (p / RECORD).is_file())


def tools_needed(toolchain: Toolchain, options: BuildOptions) -> List[str]:
    """What the recipe runs: checked before the tarball is fetched, and again before a build."""
    return ["perl", "make", toolchain.cc,
            *([toolchain.nm, toolchain.objcopy] if options.namespace else [])]


def build_openssl(
    tarball: VerifiedTarball,
    toolchain: Toolchain,
    ctx: RunContext,
    options: BuildOptions = BuildOptions(),
) -> OpenSSLBuild:
    """The static build for this tarball and toolchain: from the cache, or built now."""
    require_tools(tools_needed(toolchain, options))
    key = cache_key(tarball, toolchain, options)
    entry = ctx.cache / "openssl" / key.entry_name()
    log = ctx.log(f"openssl-{key.version}")
    with locked(entry):
        if (entry / RECORD).is_file():
            progress.say(f"    reusing the cached OpenSSL {key.version} build: {entry}")
            return _from_record(entry, key, tarball, reused=True)
        _build_into(entry, key, tarball, toolchain, ctx, options, log)
    return _from_record(entry, key, tarball, reused=False)


def _build_into(
    entry: Path,
    key: CacheKey,
    tarball: VerifiedTarball,
    toolchain: Toolchain,
    ctx: RunContext,
    options: BuildOptions,
    log: Path,
) -> None:
    version = tarball.release.version
    scratch = temp_sibling(entry, directory=True)
    started = time.monotonic()
    try:
        args = ["bash", str(recipe_path()), "--tarball", str(tarball.path),
                "--sha256", tarball.release.sha256, *recipe_options(options, toolchain),
                "--jobs", str(ctx.jobs), "--workdir", str(scratch / "src"),
                "--destdir", str(scratch / "dest")]
        call([*args, version, str(entry)], log=log, what=f"building OpenSSL {version}",
             env=_build_env(toolchain), on_line=_show_recipe_stage,
             on_start=lambda pgid: note_process_group(scratch, pgid))
        installed = Path(str(scratch / "dest") + str(entry))
        with publishing(entry, directory=True) as temp:
            for child in installed.iterdir():
                shutil.move(str(child), str(temp / child.name))
            shutil.copyfile(log, temp / "build.log")
            symbols = archive_symbols(temp / "lib")
            (temp / SYMBOLS).write_text("\n".join(sorted(symbols)) + "\n")
            renamed = len([n for n in symbols if key.namespace and n.startswith(key.namespace)])
            (temp / RECORD).write_text(json.dumps({
                "key": asdict(key),
                "configure_args": configure_args(tarball, str(entry), options, toolchain),
                "source": tarball.origin,
                "build_seconds": round(time.monotonic() - started, 1),
                "renamed_symbols": renamed,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }, indent=2) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _from_record(entry: Path, key: CacheKey, tarball: VerifiedTarball,
                 *, reused: bool) -> OpenSSLBuild:
    record = json.loads((entry / RECORD).read_text())
    return OpenSSLBuild(
        version=key.version,
        prefix=entry,
        key=key,
        configure_args=tuple(record["configure_args"]),
        tarball_sha256=key.sha256,
        origin=record["source"] if reused else tarball.origin,
        reused=reused,
        log=entry / "build.log",
        signature=tarball.signature.record() if tarball.signature else None,
        renamed_symbols=int(record.get("renamed_symbols", 0)),
    )


def archive_symbols(lib_dir: Path) -> FrozenSet[str]:
    archives = [lib_dir / "libcrypto.a", lib_dir / "libssl.a"]
    listing = capture(["nm", "-g", "--defined-only", "--format=posix", *archives])
    # posix format: "name type value size"; member headers end with ":".
    return frozenset(line.split()[0] for line in listing.splitlines()
                     if line and not line.endswith(":") and len(line.split()) >= 2)


def _build_env(toolchain: Toolchain) -> dict:
    return {**os.environ, **toolchain.env()}


def _show_recipe_stage(line: str) -> None:
    if line.startswith("==> "):
        progress.say(f"    openssl: {line[4:]}")


def copy_prefix(build: OpenSSLBuild, destination: Path) -> None:
    """Copy a cached build to a prefix of the user's choice, fixing its pkg-config files."""
    if destination.exists() and any(destination.iterdir()):
        raise InputError(f"--prefix {destination} exists and is not empty; choose a new "
                         f"directory")
    shutil.copytree(build.prefix, destination, dirs_exist_ok=True)
    for pc in (destination / "lib" / "pkgconfig").glob("*.pc"):
        pc.write_text(pc.read_text().replace(str(build.prefix), str(destination)))
