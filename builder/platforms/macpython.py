"""The macOS CPython a wheel is built for: its headers (this host's CPython Include/ of the same
minor version, with a real macOS pyconfig.h) and its names (platform, module suffix). Nothing
here runs it: a Linux host cannot load a Mach-O file.

No macOS CPython is offered by the package index, Debian or npm. The real pyconfig.h files
pinned here come from TensorFlow's macOS wheels on the package index, which ship the include
directory of the CPython they were built with (python-build-standalone's, by their folder
names): each is read out of its wheel with HTTP range requests and verified by its own sha256.
Each architecture has its own (SIZEOF_LONG_DOUBLE is 8 on arm64 and 16 on x86_64); a universal2
build includes each architecture's file by the compiler's target, as Debian's multiarch
pyconfig.h does."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from builder.architectures import Architecture, MacTag
from builder.cache import Kind, Store
from builder.context import RunContext
from builder.errors import BuilderError, InputError, VerificationError
from builder.fetch import Expected, cached_zip_member
from builder.index import index_files
from builder.interpreters import Interpreter, include_dir, pip_target_args

NOT_RUN = "macOS binaries cannot run on this host"
_MEMBER = "tensorflow/include/external/local_config_python/python_include/pyconfig.h"
_ADVICE = ("pass --index-url (or set BUILDER_INDEX_URL) naming a reachable package index that "
           "offers the pinned wheel and answers HTTP range requests")


@dataclass(frozen=True)
class MacPyconfig:
    """A macOS CPython's real pyconfig.h, inside a wheel on the package index: the CPython it
    was generated for, the wheel (project, file name, sha256 as the index lists it), the
    member's path and the member's own sha256 (what is verified)."""

    cpython: str  # 3.13.11
    project: str  # tensorflow
    wheel: str
    wheel_sha256: str
    sha256: str
    member: str = _MEMBER


def _tf(cpython: str, wheel: str, wheel_sha256: str, sha256: str) -> MacPyconfig:
    project = wheel.split("-")[0].replace("_", "-")
    return MacPyconfig(cpython, project, wheel, wheel_sha256, sha256)


# (minor version, architecture) -> its pinned pyconfig.h. No x86_64 CPython 3.13 was built
# into any wheel found: 3.13 is arm64 only.
PYCONFIGS: Dict[Tuple[Tuple[int, int], str], MacPyconfig] = {
    ((3, 13), "aarch64"): _tf(
        "3.13.11", "tensorflow-2.21.0-cp313-cp313-macosx_12_0_arm64.whl",
        "a145ed46c58192b7c3f9916d070caf4f6afc6dc7e5511f83dd97677f4c4947f4",
        "336113f2e82d47d6daa4686bbcc13b8ba0fe5d3a403728b43803a0bd260717ec"),
    ((3, 12), "aarch64"): _tf(
        "3.12.11", "tensorflow-2.21.0-cp312-cp312-macosx_12_0_arm64.whl",
        "56ecd7d47429acbe1df2694d50b75bf9fc3995ac92cb367cd9af6c4780ead712",
        "4e8c22b590961dcd4e5922059424b4ddc9318b81c0470f5c9359e3e87cb00c56"),
    ((3, 11), "aarch64"): _tf(
        "3.11.10", "tensorflow-2.20.0-cp311-cp311-macosx_12_0_arm64.whl",
        "5f964016c5035d09b85a246a6b739be89282a7839743f3ea63640224f0c63aee",
        "95a02d8ebf37b9bc2033e97f8d1bf4df67fcdc4f01a3739705e8399d8640e738"),
    ((3, 10), "aarch64"): _tf(
        "3.10.15", "tensorflow-2.20.0-cp310-cp310-macosx_12_0_arm64.whl",
        "e5f169f8f5130ab255bbe854c5f0ae152e93d3d1ac44f42cb1866003b81a5357",
        "f8f1f8621a8c2d090e579af16de939a2aceafe6172f1aa06c1db39eac9f265c9"),
    ((3, 9), "aarch64"): _tf(
        "3.9.20", "tensorflow-2.20.0-cp39-cp39-macosx_12_0_arm64.whl",
        "a66cbd1b19209d3fbc45cbea80de92514ba455434013937251d65d444779783c",
        "ab2587005af5574df46ed7a7409ba3cdbf10f717bf5857c77a3a0342c14fb2a9"),
    ((3, 8), "aarch64"): _tf(
        "3.8.13", "tensorflow_macos-2.13.0-cp38-cp38-macosx_12_0_arm64.whl",
        "b0cea604f50a032dc426d7a6a91dc53a9df001cfa94fc814972e9d4cf062d31b",
        "4fb0aec5365070893808d03065a8ba437a0cff99917c01b806ed44bd800292d9"),
    ((3, 12), "x86_64"): _tf(
        "3.12.0", "tensorflow-2.16.2-cp312-cp312-macosx_10_15_x86_64.whl",
        "912b8cd1f88fd1ef32b8db54f0193ad0a3f057691324436ba82c5f74a63a17dd",
        "3b607eec86dde64ab9f0ddbaf212d7d3fa28b4c9c67a80c96b6c83ea9cf6a783"),
    ((3, 11), "x86_64"): _tf(
        "3.11.6", "tensorflow-2.16.2-cp311-cp311-macosx_10_15_x86_64.whl",
        "ec06570d57bfa0e2be804405e3cdc2960e94887e7619ffb6bc053e9775b695aa",
        "cf15b19cc5e6ed65888d002f7db605ccacebdcb7e859e0d5712048ca74e162be"),
    ((3, 10), "x86_64"): _tf(
        "3.10.13", "tensorflow-2.16.2-cp310-cp310-macosx_10_15_x86_64.whl",
        "546dc68d0740fb4b75593a6bfa308da9526fe31f65c2181d48c8551c4a0ad02f",
        "e7602ecd99801a5f02b4e736598ee6907593a7f094aaa8bb71af80d29ab2c0ec"),
    ((3, 9), "x86_64"): _tf(
        "3.9.18", "tensorflow-2.16.2-cp39-cp39-macosx_10_15_x86_64.whl",
        "2528a162e879b40d81db3568c08256718cec4a0356580badbd362cd8af02a41b",
        "edf0d4158901625ed0ad0c72da9c11c6e8262768c38b140be2f9a01fc12fa934"),
    ((3, 8), "x86_64"): _tf(
        "3.8.9", "tensorflow-2.13.1-cp38-cp38-macosx_10_15_x86_64.whl",
        "56f35d88c419d59ed5e2823f1c69d794c8f28b77f3aed5300e454e7513a6228e",
        "562144630749280c9a281f1a37d99fd43889c24e27f3a370739e05f397a4b88a"),
}

# universal2's pyconfig.h: each architecture's own, chosen by the compiler's target.
_DISPATCH = """/* universal2: each architecture's own macOS pyconfig.h, chosen by the compiler's
   target (each slice is compiled on its own). */
#if defined(__aarch64__) || defined(__arm64__)
#include "pyconfig-arm64.h"
#elif defined(__x86_64__)
#include "pyconfig-x86_64.h"
#else
#error "no macOS pyconfig.h for this architecture"
#endif
"""


def pyconfig_for(version: Tuple[int, int], arch: Architecture) -> MacPyconfig:
    """The pinned pyconfig.h of macOS CPython `version` for `arch`; raises InputError for a
    pair none is pinned for (x86_64 3.13), naming those that are."""
    try:
        return PYCONFIGS[(version, arch.name)]
    except KeyError:
        assert arch.macos is not None
        pinned = ", ".join(f"{v[0]}.{v[1]}" for v, a in PYCONFIGS if a == arch.name)
        raise InputError(f"no macOS CPython {version[0]}.{version[1]} pyconfig.h is pinned for "
                         f"{arch.macos.plat_arch} (pinned: {pinned}); pass --python with one "
                         f"of those versions") from None


@dataclass(frozen=True)
class MacPython:
    """The macOS CPython of one minor version a wheel is built for, under a macOS tag: its
    headers (None for `builder smoke`, which compiles nothing) and the pyconfig.h files they
    hold. It never runs here."""

    version: Tuple[int, int]
    tag: MacTag
    include: Optional[Path] = None
    pyconfigs: Tuple[MacPyconfig, ...] = ()
    headers_from: str = ""  # the host interpreter whose Include/ the headers are

    runs = False
    not_run_reason = NOT_RUN

    @property
    def packages(self) -> Tuple[str, ...]:
        """What its headers came from, for the provenance: each pinned pyconfig.h."""
        return (*(f"pyconfig.h of macOS CPython {p.cpython} from {p.wheel} ({p.member}, "
                  f"sha256:{p.sha256})" for p in self.pyconfigs),
                *((f"headers: Include/ of {self.headers_from}",) if self.headers_from else ()))

    @property
    def short_version(self) -> str:
        """`3.13`."""
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def plat(self) -> str:
        """The wheel platform tag it is built for: macosx_11_0_arm64."""
        return self.tag.plat

    @property
    def arch(self) -> str:
        """The tag's architecture part (arm64, x86_64, universal2), for log names."""
        return self.tag.name

    @property
    def ext_suffix(self) -> str:
        """The extension modules' file suffix: .cpython-313-darwin.so."""
        return f".cpython-{self.version[0]}{self.version[1]}-darwin.so"

    @property
    def sysconfig_platform(self) -> str:
        """sysconfig.get_platform() of such a CPython on such a Mac: macosx-11.0-arm64."""
        return f"macosx-{self.tag.macos[0]}.{self.tag.macos[1]}-{self.arch}"

    def pip_target_args(self) -> List[str]:
        """pip options that choose wheels for this interpreter instead of the host's (pip
        takes every older macOS of the tag's architecture too)."""
        return pip_target_args(self.version, [self.plat])

    def describe(self) -> str:
        """The interpreter for messages and the provenance record."""
        return f"macOS CPython {self.short_version} ({self.plat}; not run here)"

    def build_env(self) -> Dict[str, str]:
        """What a build on this host needs to make a wheel for this interpreter: its platform
        (setuptools' wheel tag), module suffix, headers and deployment target."""
        flags = f"-I{self.include}" if self.include else ""
        return {
            "_PYTHON_HOST_PLATFORM": self.sysconfig_platform,
            "SETUPTOOLS_EXT_SUFFIX": self.ext_suffix,
            "MACOSX_DEPLOYMENT_TARGET": f"{self.tag.macos[0]}.{self.tag.macos[1]}",
            "CFLAGS": flags,
            "CPPFLAGS": flags,
        }


def mac_python(build: Interpreter, tag: MacTag, ctx: RunContext) -> MacPython:
    """The macOS CPython of `build`'s minor version under `tag`, with headers in the store:
    `build`'s Include/ and the pinned pyconfig.h of each of the tag's architectures, fetched
    on first use. Raises InputError for a version not pinned for an architecture (before any
    download), VerificationError or BuilderError where a pinned file cannot be had."""
    version = (build.version[0], build.version[1])
    pinned = tuple(pyconfig_for(version, arch) for arch in tag.arches)
    texts = [_pyconfig_text(p, ctx) for p in pinned]
    include = include_dir(build)
    names = [f"pyconfig-{a.macos.plat_arch}.h" for a in tag.arches]  # type: ignore[union-attr]
    key = "macos-headers-" + hashlib.sha256("".join(
        [str(include), ".".join(map(str, build.version)), _DISPATCH, *names,
         *(p.sha256 for p in pinned)]).encode()).hexdigest()[:16]

    def make(temp: Path) -> None:
        shutil.copytree(include, temp / "include", symlinks=False)
        if len(texts) == 1:
            (temp / "include" / "pyconfig.h").write_text(texts[0])
            return
        for name, text in zip(names, texts):
            (temp / "include" / name).write_text(text)
        (temp / "include" / "pyconfig.h").write_text(_DISPATCH)

    entry = ctx.store.materialize(Kind.TOOLS, key, make,
                                  reuse=lambda path: (path / "include" / "pyconfig.h").is_file())
    return MacPython(version, tag, entry.path / "include", pinned, build.describe())


def _pyconfig_text(pinned: MacPyconfig, ctx: RunContext) -> str:
    store: Store = ctx.store
    index = ctx.settings.index_url

    def urls():  # type: ignore[no-untyped-def]
        files = index_files(index, pinned.project, (".whl",), advice=_ADVICE)
        found = [f for f in files if f.filename == pinned.wheel]
        if not found:
            raise BuilderError(f"{index} does not offer {pinned.wheel}; {_ADVICE}")
        for file in found:
            # The index's own sha256 of the wheel, where it gives one, must be the pinned one:
            # only the member travels, so this is what ties it to the wheel that was pinned.
            if file.sha256 is not None and file.sha256 != pinned.wheel_sha256:
                raise VerificationError(f"{index} lists {pinned.wheel} with sha256 "
                                        f"{file.sha256}, not the pinned {pinned.wheel_sha256}; "
                                        f"{_ADVICE}")
            yield file.url

    fetched = cached_zip_member(
        store, f"macos-pyconfig/{pinned.cpython}-{pinned.sha256[:16]}.h", urls(), pinned.member,
        Expected(pinned.sha256, gzip=False), label=pinned.wheel, advice=_ADVICE)
    return fetched.path.read_text()

