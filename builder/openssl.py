"""Static OpenSSL builds: run the shared recipe (scripts/build_openssl.sh) once per cache key
and publish the installed prefix (headers, static archives, pkg-config files) atomically."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import FrozenSet, List, Optional, Protocol, Sequence, Tuple

from builder import progress
from builder.cache import Kind, Store, note_process_group, temp_sibling
from builder.compile_cache import Sccache
from builder.context import RunContext
from builder.errors import BuilderError, CheckFailed, InputError
from builder.remote import identity_json
from builder.runner import call, capture
from builder.sources import VerifiedTarball
from builder.toolchain import Toolchain, require_tools

DEFAULT_OPENSSLDIR = "/etc/ssl"
# Every build is configured for this prefix and installed by DESTDIR into its cache entry.
# OpenSSL compiles the prefix in (MODULESDIR, ENGINESDIR): a fixed, documented directory that
# only root can create on a server (as pyca's /opt/pyca/cryptography/openssl), never the build
# host's cache, and wheels that do not differ by where the cache is.
INSTALL_PREFIX = "/opt/builder/openssl"
RECORD = "build.json"
# The environment variables OpenSSL's Configure takes flags from.
_CONFIGURE_READS = frozenset({"CFLAGS", "CPPFLAGS", "CXXFLAGS", "LDFLAGS", "LDLIBS", "ASFLAGS",
                              "CROSS_COMPILE", "HASHBANGPERL"})
# A cached build's pkg-config prefix: its own entry, found from the .pc file (lib/pkgconfig/).
RELOCATABLE_PREFIX = "${pcfiledir}/../.."
OPENSSL_BUILD_EPOCH = "315532800"  # 1980-01-01, the zip format's epoch
SYMBOLS = "defined-symbols.txt"


def recipe_path() -> Path:
    """The build recipe, shipped inside the package (scripts/build_openssl.sh in the repo)."""
    return Path(str(resources.files("builder").joinpath("recipe/build_openssl.sh")))


# The recipe's prefix for OpenSSL's internal symbols (scripts/build_openssl.sh).
NAMESPACE_PREFIX = "builder_"


@dataclass(frozen=True)
class BuildOptions:
    """What the user may change of a build; refused (InputError) when it would defeat a
    guarantee of the builder (see `refuse_configure_arg`)."""

    openssldir: str = DEFAULT_OPENSSLDIR
    configure_args: Tuple[str, ...] = ()
    namespace: bool = True  # rename OpenSSL's non-public globals in the static archives

    def __post_init__(self) -> None:
        check_openssldir(self.openssldir)
        for arg in self.configure_args:
            refuse_configure_arg(arg)


# The features whose state the builder guarantees, with the guarantee their `enable-` form
# would break (Configure's @disablables of each release).
_GUARANTEED_OFF = {
    "shared": "the libraries are static (no-shared): a wheel must not need a shared libcrypto",
    "ssl2": "SSLv2 is off",
    "ssl3": "SSLv3 is off (no-ssl3)",
    "ssl3-method": "SSLv3 is off (no-ssl3)",
    "comp": "TLS compression is off (no-comp)",
    "module": "providers live inside libcrypto.a (no-module): a static wheel cannot load them",
    "fips": "providers live inside libcrypto.a (no-module): the FIPS provider is a module",
    "dynamic-engine": "nothing is loaded at run time: dynamic engines are shared objects",
}
for _library in ("zlib", "zstd", "brotli"):
    _GUARANTEED_OFF[_library] = (f"the wheel needs no library but OpenSSL's: {_library} "
                                 f"would be linked from the build host")
    _GUARANTEED_OFF[f"{_library}-dynamic"] = (f"nothing is loaded at run time: "
                                              f"{_library}-dynamic opens lib{_library} then")
_NOT_PIC = "the libraries are position-independent (-fPIC), as an extension module needs"
# Options the recipe sets itself; the user's would replace the builder's.
_OWNED_OPTIONS = {
    "--prefix": f"the prefix is fixed ({INSTALL_PREFIX}) so that no wheel names the build host",
    "--libdir": "the libraries go to lib/, where the builder points every build",
    "--openssldir": "pass --openssldir DIR (an absolute directory) instead",
    "--cross-compile-prefix": "the target comes from --plat",
}
_OWNED_VARIABLES = ("CC", "CXX", "AR", "RANLIB", "LD", "NM", "CROSS_COMPILE")
# Bare words Configure takes as options (after its own rewrites); any other is a target.
_BARE_OPTIONS = {"386", "enable-threads", "enable-sctp"}
# Compiler and linker flags that undo position independence or static linking.
_NOT_PIC_FLAG = re.compile(r"(?:^|\s)(?:-fno-pic|-fno-PIC|-fno-pie|-fno-PIE|-static)(?:\s|$)")


def configure_spelling(arg: str) -> str:
    """The argument as Configure reads it: its own rewrites first (`-no-X` is `no-X`;
    `shared`, `--shared`, `sctp`, `threads`, `zlib`, `zlib-dynamic`, `fips` are `enable-...`;
    `disable-X` is `no-X`)."""
    arg = re.sub(r"^-no-(?!integrated-as)", "no-", arg)
    arg = re.sub(r"^-?-?shared$", "enable-shared", arg)
    for word in ("sctp", "threads", "zlib", "zlib-dynamic", "fips"):
        if arg == word:
            arg = f"enable-{word}"
    return re.sub(r"^disable-", "no-", arg)


def refuse_configure_arg(arg: str) -> None:
    """Raise InputError for a ./Configure argument that would break what the builder
    guarantees (static, PIC, no SSLv2/SSLv3, no compression, no library but OpenSSL's,
    nothing loaded at run time, the fixed prefix) or that the recipe owns (prefix, libdir,
    openssldir, target, compiler). Read as Configure reads it (`configure_spelling`).
    Everything else (no-X, enable-X of other features, -D/-O compiler flags, --with-*)
    passes."""
    if not arg or arg != arg.strip() or "\n" in arg:
        raise InputError(f"--configure-arg {arg!r} is empty or holds white space at its ends")
    spelled = configure_spelling(arg)
    name = spelled.split("=", 1)[0]
    if spelled.startswith("enable-") and spelled[len("enable-"):] in _GUARANTEED_OFF:
        raise InputError(f"--configure-arg {arg} is refused: "
                         f"{_GUARANTEED_OFF[spelled[len('enable-'):]]}, and the builder "
                         f"guarantees it")
    if spelled == "no-pic" or _NOT_PIC_FLAG.search(spelled.split("=", 1)[-1]):
        raise InputError(f"--configure-arg {arg} is refused: {_NOT_PIC}, and the builder "
                         f"guarantees it")
    if name in _OWNED_OPTIONS:
        raise InputError(f"--configure-arg {arg} is refused: the recipe sets {name} itself ("
                         f"{_OWNED_OPTIONS[name]})")
    if "=" in spelled and name in _OWNED_VARIABLES:
        raise InputError(f"--configure-arg {arg} is refused: the compiler and tools come from "
                         f"the toolchain the builder chose for --plat")
    bare = not spelled.startswith(("-", "+", "no-", "enable-")) and "=" not in spelled
    if bare and spelled not in _BARE_OPTIONS:
        raise InputError(f"--configure-arg {arg} is refused: a bare word is a ./Configure "
                         f"target (or an option that would override the recipe); the target "
                         f"comes from --plat")


def check_openssldir(openssldir: str) -> None:
    """--openssldir must be a plain absolute directory: OpenSSL compiles it in, and a relative
    one is taken inside the build's prefix (the trust store would be looked up there).
    Raises InputError for a relative one, or one holding white space, quotes, `$`, a backtick,
    a backslash or a `..` part."""
    if not openssldir.startswith("/") or any(c.isspace() or c in "\"'$`\\" for c in openssldir) \
            or "/../" in f"{openssldir}/":
        raise InputError(f"--openssldir {openssldir!r} is refused: give a plain absolute "
                         f"directory such as /etc/ssl or /etc/pki/tls (OpenSSL compiles it "
                         f"in; a relative one would point into the build host's cache)")


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
        """The key's identity: the first 16 hex digits of the sha256 of its fields (sorted JSON)."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def identity(self) -> str:
        """Every field, as the canonical JSON a shared entry of this build is checked by."""
        return identity_json({"entry": "static OpenSSL build", **asdict(self)})

    def entry_name(self) -> str:
        """The build's entry name in the cache's openssl folder: `openssl-<version>-<digest>`."""
        return f"openssl-{self.version}-{self.digest()}"


@dataclass(frozen=True)
class OpenSSLBuild:
    """A static OpenSSL build in the cache: its installed prefix (a directory inside the cache),
    the key it was built for, where its tarball came from and whether the entry was reused."""

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
    pulled_from: Optional[str] = None  # the remote store the build came from

    def seen_from(self, root: Path, real_root: Path) -> "OpenSSLBuild":
        """This build with its paths under the cache root `real_root` where they were under
        `root` (a run with --sccache sees its cache through a link in its workspace, gone
        once the run ends)."""
        def moved(path: Path) -> Path:
            try:
                return real_root / path.relative_to(root)
            except ValueError:
                return path

        return replace(self, prefix=moved(self.prefix), log=moved(self.log))

    @property
    def include_dir(self) -> Path:
        """The prefix's include/ directory (OpenSSL's headers)."""
        return self.prefix / "include"

    @property
    def lib_dir(self) -> Path:
        """The prefix's lib/ directory (libcrypto.a, libssl.a, pkgconfig/)."""
        return self.prefix / "lib"

    def defined_symbols(self) -> FrozenSet[str]:
        """Every global symbol the static archives define: none may leave an extension. Read from
        the list saved beside the build (defined-symbols.txt), else from `nm` on the archives
        (`archive_symbols`)."""
        listed = self.prefix / SYMBOLS
        if listed.is_file() and listed.read_text().split():
            return frozenset(listed.read_text().split())
        return archive_symbols(self.lib_dir)

    def record(self) -> dict:
        """The build as the provenance record shows it: a JSON-ready dict of version, tarball
        sha256, source, ./Configure arguments, compiler, target, cache key digest, namespace
        (None when the internals keep their names) and, when checked, the tarball's signature."""
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
            **({"pulled_from": self.pulled_from} if self.pulled_from else {}),
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


class OpenSSLRecipe(Protocol):
    """One platform's way of running the OpenSSL build recipe. `openssl_recipe` chooses it:
    the bash recipe (scripts/build_openssl.sh) for every toolchain but MSVC, the PowerShell
    one (`builder.platforms.msvc.PowerShellRecipe`) for MSVC."""

    def file(self) -> Path:
        """The recipe's file, whose sha256 is part of the cache key."""

    def tools(self) -> List[str]:
        """The programs it runs (besides the compiler's own), looked for on PATH."""

    def configure_args(self, tarball: VerifiedTarball, options: BuildOptions,
                       toolchain: Toolchain) -> List[str]:
        """Its ./Configure arguments for this release, one per item (`--prefix=...` among
        them), asked of the recipe itself. Raises CommandFailed when it refuses, InputError
        where its interpreter is missing."""

    def build_command(self, tarball: VerifiedTarball, options: BuildOptions,
                      toolchain: Toolchain, jobs: int, scratch: Path) -> Tuple[List[str], Path]:
        """The command that builds in `scratch/src` and installs under `scratch/dest`, and
        the folder the installed prefix is in then."""


@dataclass(frozen=True)
class BashRecipe:
    """The bash recipe: configured for INSTALL_PREFIX, installed by DESTDIR."""

    def file(self) -> Path:
        return recipe_path()

    def tools(self) -> List[str]:
        return ["perl", "make"]

    def configure_args(self, tarball: VerifiedTarball, options: BuildOptions,
                       toolchain: Toolchain) -> List[str]:
        args = [str(recipe_path()), "--print-flags", "--tarball", str(tarball.path),
                *recipe_options(options, toolchain)]
        return capture(["bash", *args, tarball.release.version, INSTALL_PREFIX]).split("\n")[:-1]

    def build_command(self, tarball: VerifiedTarball, options: BuildOptions,
                      toolchain: Toolchain, jobs: int, scratch: Path) -> Tuple[List[str], Path]:
        command = ["bash", str(recipe_path()), "--tarball", str(tarball.path),
                   "--sha256", tarball.release.sha256, *recipe_options(options, toolchain),
                   "--jobs", str(jobs), "--workdir", str(scratch / "src"),
                   "--destdir", str(scratch / "dest"), tarball.release.version, INSTALL_PREFIX]
        return command, Path(str(scratch / "dest") + INSTALL_PREFIX)


def openssl_recipe(toolchain: Toolchain) -> OpenSSLRecipe:
    """The recipe that builds OpenSSL with `toolchain`: the one place that chooses."""
    if toolchain.linker == "msvc":
        from builder.platforms.msvc import PowerShellRecipe
        return PowerShellRecipe()
    return BashRecipe()


def configure_args(tarball: VerifiedTarball, options: BuildOptions,
                   toolchain: Toolchain) -> List[str]:
    """The ./Configure arguments of `toolchain`'s recipe for this release (one per item,
    `--prefix=...` among them). Raises CommandFailed when the recipe refuses, InputError
    where its interpreter (PowerShell) is missing."""
    return openssl_recipe(toolchain).configure_args(tarball, options, toolchain)


def cache_key(tarball: VerifiedTarball, toolchain: Toolchain, options: BuildOptions) -> CacheKey:
    """The cache key of a build of `tarball` with `toolchain` and `options`: the release and its
    sha256 (the release table's), the recipe's ./Configure arguments, the recipe's sha256, the
    compiler's identity and target triple, and the namespace prefix. Runs the recipe with
    --print-flags, so raises CommandFailed as `configure_args` does."""
    flags = configure_args(tarball, options, toolchain)
    return CacheKey(
        version=tarball.release.version,
        sha256=tarball.release.sha256,
        flags=tuple(flags),
        recipe=hashlib.sha256(openssl_recipe(toolchain).file().read_bytes()).hexdigest(),
        compiler=toolchain.identity,
        target=toolchain.triple,
        namespace=NAMESPACE_PREFIX if options.namespace else "",
    )


def find_cached(cache: Path, version: str) -> List[Path]:
    """Complete cached builds of one version (any key): their directories inside the cache,
    sorted by name."""
    return [p for p in Store(cache).entries(Kind.OPENSSL, f"openssl-{version}-*")
            if (p / RECORD).is_file()]


def tools_needed(toolchain: Toolchain, options: BuildOptions) -> List[str]:
    """What the recipe runs: checked before the tarball is fetched, and again before a build
    (with MSVC, nmake or jom come with the developer prompt: `require_msvc_tools`)."""
    return [*openssl_recipe(toolchain).tools(), toolchain.openssl_cc or toolchain.cc,
            *([toolchain.nm, toolchain.objcopy] if options.namespace else [])]


def build_openssl(
    tarball: VerifiedTarball,
    toolchain: Toolchain,
    ctx: RunContext,
    options: BuildOptions = BuildOptions(),
) -> OpenSSLBuild:
    """The static build for this tarball and toolchain: from the cache, or built now.

    Raises InputError when a tool the recipe runs is missing (`tools_needed`); CommandFailed
    when the recipe fails (its log is this run's `openssl-<version>.log`)."""
    require_tools(tools_needed(toolchain, options))
    key = cache_key(tarball, toolchain, options)
    log = ctx.log(f"openssl-{key.version}")
    entry = ctx.store.materialize(
        Kind.OPENSSL, key.entry_name(),
        lambda temp: _build_into(temp, key, tarball, toolchain, ctx, options, log),
        reuse=complete_build, identity=key.identity())
    if entry.pulled_from:
        progress.say(f"    OpenSSL {key.version} build pulled from {entry.pulled_from}: "
                     f"{entry.path}")
    elif entry.reused:
        progress.say(f"    reusing the cached OpenSSL {key.version} build: {entry.path}")
    return replace(_from_record(entry.path, key, tarball, reused=entry.reused),
                   pulled_from=entry.pulled_from)


def _build_into(
    temp: Path,
    key: CacheKey,
    tarball: VerifiedTarball,
    toolchain: Toolchain,
    ctx: RunContext,
    options: BuildOptions,
    log: Path,
) -> None:
    """Build in a scratch directory beside the entry, and install into `temp`."""
    version = tarball.release.version
    entry = ctx.store.path(Kind.OPENSSL, key.entry_name())
    scratch = temp_sibling(entry, directory=True)
    started = time.monotonic()
    try:
        command, installed = openssl_recipe(toolchain).build_command(
            tarball, options, toolchain, ctx.jobs, scratch)
        call(command, log=log, what=f"building OpenSSL {version}",
             env=_build_env(toolchain, ctx.sccache, scratch), on_line=_show_recipe_stage,
             on_start=lambda pgid: note_process_group(scratch, pgid))
        for child in installed.iterdir():
            shutil.move(str(child), str(temp / child.name))
        # pkg-config must find the headers and archives where they are, relative to the
        # .pc file, so the entry holds no path of this cache (it is the same bytes in any
        # cache root, shared between machines); what OpenSSL compiled in stays INSTALL_PREFIX.
        _set_pkgconfig_prefix(temp / "lib" / "pkgconfig", RELOCATABLE_PREFIX)
        shutil.copyfile(log, temp / "build.log")
        symbols = archive_symbols(temp / "lib", toolchain.nm, toolchain.symbol_prefix)
        (temp / SYMBOLS).write_text("\n".join(sorted(symbols)) + "\n")
        renamed = len([n for n in symbols if key.namespace and n.startswith(key.namespace)])
        (temp / RECORD).write_text(json.dumps({
            "key": asdict(key),
            "configure_args": list(key.flags),
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


def join_builds(builds: Sequence[OpenSSLBuild], joiner: Sequence[str], ctx: RunContext
                ) -> OpenSSLBuild:
    """One static OpenSSL made of several architectures' builds of one release (universal2):
    each archive joined by `joiner` (argv of a tool that takes the archives and `-output
    FILE`: llvm-lipo -create), the headers, pkg-config files and defined symbols of the first,
    in a cache entry keyed by every build's key. Raises CheckFailed where the builds' headers
    differ (one set could not serve every architecture), CommandFailed where the joiner
    fails."""
    first = builds[0]
    # One line of Configure arguments per architecture, each named by its target.
    key = CacheKey(version=first.version, sha256=first.key.sha256,
                   flags=tuple(f"{b.key.target}: {' '.join(b.key.flags)}" for b in builds),
                   recipe=first.key.recipe,
                   compiler=" + ".join(b.key.compiler for b in builds),
                   target=" + ".join(b.key.target for b in builds),
                   namespace=first.key.namespace)
    log = ctx.log(f"openssl-{key.version}-join")

    def make(temp: Path) -> None:
        for other in builds[1:]:
            differing = _differing_files(first.include_dir, other.include_dir)
            if differing:
                raise CheckFailed(f"the OpenSSL {key.version} headers of {first.key.target} and "
                                  f"{other.key.target} differ ({', '.join(differing[:3])}): "
                                  f"one include directory cannot serve both")
        shutil.copytree(first.include_dir, temp / "include")
        (temp / "lib").mkdir()
        for name in ("libcrypto.a", "libssl.a"):
            call([*joiner, *(str(b.lib_dir / name) for b in builds), "-output",
                  str(temp / "lib" / name)], log=log, what=f"joining {name}")
        shutil.copytree(first.lib_dir / "pkgconfig", temp / "lib" / "pkgconfig")
        _set_pkgconfig_prefix(temp / "lib" / "pkgconfig", RELOCATABLE_PREFIX)
        symbols = frozenset().union(*(b.defined_symbols() for b in builds))
        (temp / SYMBOLS).write_text("\n".join(sorted(symbols)) + "\n")
        (temp / "build.log").write_text("".join(b.log.read_text() for b in builds))
        (temp / RECORD).write_text(json.dumps({
            "key": asdict(key),
            "configure_args": list(key.flags),
            "source": first.origin,
            "joined": [{"target": b.key.target, "cache_key": b.key.digest(),
                        "renamed_symbols": b.renamed_symbols} for b in builds],
            "renamed_symbols": first.renamed_symbols,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }, indent=2) + "\n")

    entry = ctx.store.materialize(Kind.OPENSSL, key.entry_name(), make,
                                  reuse=complete_build, identity=key.identity())
    return OpenSSLBuild(version=first.version, prefix=entry.path, key=key,
                        configure_args=key.flags, tarball_sha256=first.tarball_sha256,
                        origin=first.origin, reused=entry.reused, log=entry.path / "build.log",
                        signature=first.signature, renamed_symbols=first.renamed_symbols,
                        pulled_from=entry.pulled_from)


def _differing_files(left: Path, right: Path) -> List[str]:
    """The files (relative paths) that differ between two trees, or are in one alone."""
    found: List[str] = []

    def walk(compared: filecmp.dircmp, prefix: str) -> None:
        found.extend(prefix + n for n in compared.left_only + compared.right_only
                     + compared.diff_files + compared.funny_files)
        for name, sub in compared.subdirs.items():
            walk(sub, f"{prefix}{name}/")
    walk(filecmp.dircmp(left, right, ignore=[]), "")
    return sorted(found)


def static_archives(lib_dir: Path) -> List[Path]:
    """libcrypto and libssl in a prefix's lib/: the `.a` archives OpenSSL installs everywhere
    but with MSVC, where they are `.lib` files (those where only they exist)."""
    suffix = ".lib" if not (lib_dir / "libcrypto.a").exists() \
        and (lib_dir / "libcrypto.lib").exists() else ".a"
    return [lib_dir / f"libcrypto{suffix}", lib_dir / f"libssl{suffix}"]


def archive_symbols(lib_dir: Path, nm: str = "nm", symbol_prefix: str = "") -> FrozenSet[str]:
    """The global symbols libcrypto and libssl in `lib_dir` (`static_archives`) define, as
    `nm -g --defined-only` lists them (`nm`: the toolchain's, which reads its objects), each
    without the target's C `symbol_prefix` (i386 COFF's `_`). Raises InputError when nm is
    missing, CommandFailed when it fails, BuilderError when it lists none (nm did not read
    the objects)."""
    archives = static_archives(lib_dir)
    listing = capture([nm, "-g", "--defined-only", "--format=posix", *archives])
    # posix format: "name type value size"; member headers end with ":".
    names = [line.split()[0] for line in listing.splitlines()
             if line and not line.endswith(":") and len(line.split()) >= 2]
    if not names:
        raise BuilderError(f"{nm} lists no symbol of {lib_dir}'s archives: it cannot read "
                           f"their objects; install the toolchain's nm")
    return frozenset(n[len(symbol_prefix):] if symbol_prefix and n.startswith(symbol_prefix)
                     else n for n in names)


def _build_env(toolchain: Toolchain, sccache: Optional[Sccache] = None,
               scratch: Optional[Path] = None) -> dict:
    """The recipe's environment. A compiler given by path (zig's wrapper in the cache) is put
    on PATH and named by its file name: OpenSSL compiles `CC` into its version information
    (`compiler: ...`), which must not name a directory of the build host. With `sccache`, a
    shim of the same name in `scratch` stands first on PATH: the same `CC`, through it."""
    # Configure reads these from the environment: the cache key and ./Configure's arguments
    # alone decide a build.
    env = {name: value for name, value in os.environ.items() if name not in _CONFIGURE_READS}
    env.update(toolchain.openssl_env())
    # OpenSSL writes its build date into its version information: fixed, as the cache key
    # holds everything a build depends on and the date is no part of it.
    env["SOURCE_DATE_EPOCH"] = OPENSSL_BUILD_EPOCH
    if os.sep in env["CC"]:
        folder, name = os.path.split(env["CC"])
        env["PATH"] = folder + os.pathsep + env.get("PATH", "")
        env["CC"] = name
    if sccache is not None and scratch is not None:
        real = shutil.which(env["CC"], path=env.get("PATH"))
        if real is None:
            raise InputError(f"the compiler {env['CC']} is not on PATH")
        shims = sccache.shim(scratch / "sccache-shims", env["CC"], [real])
        env["PATH"] = str(shims) + os.pathsep + env["PATH"]
        env.update(sccache.build_env())
    return env


def _show_recipe_stage(line: str) -> None:
    if line.startswith("==> "):
        progress.say(f"    openssl: {line[4:]}")


def copy_prefix(build: OpenSSLBuild, destination: Path) -> None:
    """Copy a cached build to a prefix of the user's choice, fixing its pkg-config files.
    Raises InputError when `destination` exists and is not empty."""
    if destination.exists() and any(destination.iterdir()):
        raise InputError(f"--prefix {destination} exists and is not empty; choose a new "
                         f"directory")
    shutil.copytree(build.prefix, destination, dirs_exist_ok=True)
    _set_pkgconfig_prefix(destination / "lib" / "pkgconfig", str(destination))


def complete_build(entry: Path) -> bool:
    """Whether a cache entry is a whole build of this builder's layout: its record written
    last, its pkg-config files relative to themselves (an entry from before names the cache
    it was made in: it is built again rather than reused or shared)."""
    return (entry / RECORD).is_file() and all(
        f"prefix={RELOCATABLE_PREFIX}\n" in pc.read_text()
        for pc in (entry / "lib" / "pkgconfig").glob("*.pc"))


def _set_pkgconfig_prefix(folder: Path, prefix: str) -> None:
    """Point the pkg-config files' `prefix=` line (which every other path derives from) at
    `prefix`."""
    for pc in folder.glob("*.pc"):
        pc.write_text(re.sub(r"(?m)^prefix=.*$", lambda _: f"prefix={prefix}", pc.read_text()))
