"""The build environment of an extension: the static OpenSSL prefix and nothing else, the
platform's flags that hide its symbols, fixed paths and times for reproducible wheels, and
the jobs setting."""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Dict, List, Mapping, Optional, Tuple


from builder import progress
from builder.platforms.qemu import EmulatedPython
from builder.openssl import INSTALL_PREFIX, OpenSSLBuild
from builder.toolchain import Toolchain


def prefix_env(prefix: PurePath, hide: str, *, force_version_text: bool = True,
               symbol_prefix: str = "") -> Dict[str, str]:
    """How every common build system is pointed at a static OpenSSL prefix: C flags, pkg-config,
    and the variables of openssl-sys (Rust), CMake's FindOpenSSL and setup.py files (M2Crypto
    reads OPENSSL_PATH; without it, it hands SWIG the system's /usr/include/openssl).

    `hide`: the platform's link flags that keep OpenSSL's symbols out of each module's exports.

    `force_version_text`: `-Wl,-u,OpenSSL_version` on every link, where no compiler wrapper
    adds it to just the links that take OpenSSL objects (cibuildwheel's containers, linkers
    that print no link map); `symbol_prefix`: the target's spelling of C names (`_` for
    Mach-O)."""
    include, lib = str(prefix / "include"), str(prefix / "lib")
    version_text = f" -Wl,-u,{symbol_prefix}OpenSSL_version" if force_version_text else ""
    return {
        "CFLAGS": f"-I{include}",
        "CPPFLAGS": f"-I{include}",
        "LDFLAGS": f"-L{lib} {hide}{version_text} -lcrypto",
        "PKG_CONFIG_PATH": f"{lib}/pkgconfig",
        "OPENSSL_DIR": str(prefix),
        "OPENSSL_ROOT_DIR": str(prefix),
        "OPENSSL_PATH": str(prefix),
        "OPENSSL_INCLUDE_DIR": include,
        "OPENSSL_LIB_DIR": lib,
        "OPENSSL_STATIC": "1",
        # openssl-sys's "vendored" feature would build OpenSSL from its own source instead.
        "OPENSSL_NO_VENDOR": "1",
        "OPENSSL_USE_STATIC_LIBS": "TRUE",
    }


def openssl_env(build: OpenSSLBuild, hide: str, toolchain: Optional[Toolchain] = None
                ) -> Dict[str, str]:
    """How every common build system is pointed at the static prefix, and nothing else.

    The prefix's lib/ holds only static archives, so `-lcrypto` cannot find a shared one.
    OpenSSL's symbols are made local to each extension (`hide`, the platform's flags), so a
    libcrypto already in the process cannot interpose them; `-u OpenSSL_version` links
    OpenSSL's version text into every module, so any wheel can be inspected later.
    """
    # The compiler wrapper (link_proof) adds -u OpenSSL_version to the links that use OpenSSL,
    # which it reads from the link map; where the linker prints none, every link gets it.
    forced = toolchain is not None and not toolchain.link_map
    env = prefix_env(build.prefix, hide, force_version_text=forced,
                     symbol_prefix=toolchain.symbol_prefix if toolchain else "")
    if toolchain is not None and toolchain.tools:
        # A compiler other than the host's: setuptools must compile and link with it.
        env.update(toolchain.env())
        env["LDFLAGS"] = " ".join(filter(None, [env["LDFLAGS"], toolchain.ldflags]))
    return env


def build_env(build: OpenSSLBuild, hide: str, base: Optional[Dict[str, str]] = None, *,
              toolchain: Optional[Toolchain] = None,
              emulated: Optional[EmulatedPython] = None) -> Dict[str, str]:
    """The user's environment (`base`, default os.environ) with the OpenSSL settings (and,
    for another architecture, the emulated target interpreter's) put in front of theirs."""
    env = dict(os.environ if base is None else base)
    if emulated is not None:
        env = put_in_front(env, emulated.build_env())
    return put_in_front(env, openssl_env(build, hide, toolchain))


def build_host_paths(scratch: Path, cache: Path) -> List[Tuple[Path, str]]:
    """The build host's directories that compilers would write into a wheel (debug info,
    __FILE__, panic messages), each with the fixed name it is recorded as instead; the most
    general first, since the last matching -ffile-prefix-map wins (GCC and clang alike).
    Each as given: these names are part of every compile's command line, which a compile
    cache keys by (the scratch folder is given by its real path, see
    compile_cache.workspace)."""
    home = Path.home()
    return [(home, "~"), (cache, "/builder-cache"), (scratch, "/builder")]


def reproducible_paths(scratch: Path, cache: Path, openssl: Optional[OpenSSLBuild] = None,
                       vendor: Optional[Path] = None) -> List[Tuple[Path, str]]:
    """Each build-host directory a build may record, with the fixed name it is recorded as:
    home, cache, build directory, the OpenSSL prefix, cargo's home and a vendor directory."""
    names = build_host_paths(scratch, cache)
    if openssl is not None:
        names.append((openssl.prefix, INSTALL_PREFIX))
    names.append((Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo"), "/cargo"))
    if vendor is not None:
        names.append((vendor.resolve(), "/vendor"))
    return names


def reproducible_env(names: List[Tuple[Path, str]], epoch: int, *, rust: bool = True
                     ) -> Dict[str, str]:
    """What makes two builds of the same inputs byte-identical wherever they run, and keeps
    the build host's paths out of the wheel: fixed file times; `names` recorded under their
    fixed names in C debug info and __FILE__ (-ffile-prefix-map) and, with `rust`, in Rust's
    (--remap-path-prefix, added to $RUSTFLAGS)."""
    env = {"SOURCE_DATE_EPOCH": str(epoch),
           "CFLAGS": " ".join(f"-ffile-prefix-map={old}={new}" for old, new in names)}
    if rust:
        rustflags = " ".join(f"--remap-path-prefix={old}={new}" for old, new in names)
        env["RUSTFLAGS"] = (f"{os.environ['RUSTFLAGS']} {rustflags}"
                            if os.environ.get("RUSTFLAGS") else rustflags)
    return env


def parallelism_env(jobs: int, environ: Optional[Mapping[str, str]] = None, *,
                    nmake: bool = False) -> Dict[str, str]:
    """The jobs setting, for the build systems an extension's build runs (make, CMake, cargo),
    each only where the user's environment (`environ`, default os.environ) does not already
    choose; with `nmake` (MSVC) no MAKEFLAGS, since nmake reads it too and knows no -j."""
    environ = os.environ if environ is None else environ
    wanted = {"CMAKE_BUILD_PARALLEL_LEVEL": str(jobs), "CARGO_BUILD_JOBS": str(jobs),
              **({} if nmake else {"MAKEFLAGS": f"-j{jobs}"})}
    return {name: value for name, value in wanted.items() if not environ.get(name)}


def cargo_config_sets_rustflags(source: Path) -> bool:
    """Whether the sdist's cargo configuration sets rustflags: $RUSTFLAGS would replace them,
    so the builder leaves it unset (and the check of build paths then has the last word)."""
    for config in (source / ".cargo" / "config.toml", source / ".cargo" / "config"):
        if config.is_file() and "rustflags" in config.read_text(errors="replace"):
            progress.warn(f"{config.relative_to(source)} sets rustflags, which $RUSTFLAGS "
                          f"would replace: Rust's paths are not remapped in this build")
            return True
    return False


def put_in_front(env: Dict[str, str], settings: Dict[str, str]) -> Dict[str, str]:
    """A copy of `env` with `settings` set: CFLAGS, CPPFLAGS and LDFLAGS go before the user's
    flags, PKG_CONFIG_PATH before the user's path; any other variable replaces the user's."""
    env = dict(env)
    for name, value in settings.items():
        if name in ("CFLAGS", "CPPFLAGS", "LDFLAGS") and env.get(name):
            value = f"{value} {env[name]}"
        elif name == "PKG_CONFIG_PATH" and env.get(name):
            value = f"{value}{os.pathsep}{env[name]}"
        env[name] = value
    return env


def host_cc() -> str:
    """The host's C compiler as a command line: $CC (`ccache gcc` too), else `cc`."""
    return (os.environ.get("CC") or "").strip() or "cc"
