"""zig as the C compiler (and Rust's linker) for glibc targets older than the host's or of
another architecture, for Windows and for macOS: `zig cc -target x86_64-linux-gnu.2.17`,
`-target x86_64-windows-gnu` (mingw-w64 headers, the UCRT) and `-target aarch64-macos.11.0`
(its darwin headers and libSystem.tbd) need no sysroot or SDK. Pinned by version and sha256,
from the `ziglang` wheel on the package index, unpacked into the cache."""

from __future__ import annotations

import hashlib
import shlex
import shutil
import zipfile
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Tuple

from builder.cache import Kind, Store
from builder.errors import BuilderError
from builder.fetch import Expected, cached_download
from builder.remote import identity_json
from builder.index import index_files
from builder.target import Target
from builder.toolchain import Toolchain, llvm_tool

# zig, from the `ziglang` wheel on the package index, pinned by version and hash. It targets
# any glibc (x86_64-linux-gnu.2.17) without a sysroot.
ZIG_VERSION = "0.15.2"
ZIG_WHEEL = "ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl"
ZIG_SHA256 = "806316453d1ede7174ed3fefb8e5348154629089c3bb5fe812dfd0e172fac130"
_ZIG_KEY = f"zig-{ZIG_VERSION}"
# Beside zig's own entry, not in it: they name this cache's paths, and zig's entry is shared
# between machines.
_WRAPPERS_KEY = f"zig-{ZIG_VERSION}-wrappers"
_ZIG_ADVICE = (f"pass --index-url (or set BUILDER_INDEX_URL) naming a reachable package index "
               f"that offers {ZIG_WHEEL}")

# Each quirk of building OpenSSL and extensions with zig, answered in these wrappers:
# - the Rust `cc` crate passes --target=<rust triple>, which zig cc rejects: dropped (rustc
#   links through the same wrapper);
# - zig emits debug info by default (libcrypto.a 28 MB instead of 9 MB): -g0;
# - without -O, zig compiles with UBSan and links its runtime (naming zig's cache in the
#   module), which gcc and clang never do: -fno-sanitize=undefined;
# - OpenSSL's perlasm asks the assembler's version (`-Wa,-v`) and, told clang, leaves out the
#   AVX-512 ChaCha20/Poly1305 code (44% slower): zig's LLVM assembler handles it, so the
#   probe is answered as a binutils that does;
# - setup.py files that add the host's -I/usr/include (scrypt's does) would mix the host
#   glibc's headers with the target's: those two directories are dropped;
# - CPython 3.6-3.8 headers include <crypt.h>, which zig's glibc headers lack: a stand-in
#   declaring crypt() is searched after every other include directory;
# - zig links its own glibc stubs (libc_nonshared) with debug info naming its lib directory
#   in the cache: links strip debug info (the wheel's own code has none: -g0);
# - ar and ranlib are zig's own;
# - for Windows, links are stripped (-s: else zig writes a .pdb beside the module) and the
#   import library every DLL link writes beside its output (mod.lib, which would land in the
#   wheel) goes to a temporary file instead;
# - for macOS, OpenSSL's objects are compiled -fvisibility=hidden, and its assembly globals
#   (perlasm) made private extern alike: zig's Mach-O linker has no -exported_symbols_list,
#   so this is what keeps them out of a module's exports; zig's darwin headers lack
#   CommonCrypto, whose random API OpenSSL calls (the function itself is in libSystem.tbd):
#   stand-in headers declare it.
_CC_WRAPPER = """#!/bin/sh
for arg in "$@"; do
  case "$arg" in -Wa,-v) echo "GNU assembler version 2.40 (zig cc {zig_version})" >&2; exit 0 ;; esac
done
link="{link_flags}"
for arg in "$@"; do
  case "$arg" in -c|-E|-S|-M|-MM) link= ;; esac
done
first=1
rewritten=
prev=
for arg in "$@"; do
  if [ "$first" = 1 ]; then set --; first=0; fi
  case "$prev" in -o|-MF|-MT|-MQ) set -- "$@" "$arg"; prev=; continue ;; esac
  prev="$arg"
  case "$arg" in
    --target=*|-target=*|-I/usr/include|-I/usr/local/include) ;;{asm_case}
    *) set -- "$@" "$arg" ;;
  esac
done
implib="${{TMPDIR:-/tmp}}/zig-implib-$$.lib"
case "$link" in *out-implib*) link="$link,$implib" ;; esac
"{zig}" cc -target {target} -g0 -fno-sanitize=undefined {compile_flags}"$@" $link -idirafter "{fallback_include}"
status=$?
rm -f "$implib" ${{rewritten:+"$rewritten"}}
exit $status
"""
# macOS: an assembly source's globals and common symbols become private extern (what
# -fvisibility=hidden makes of C's; a common one as a zero-filled definition, since zig's
# linker exports private extern commons), in a copy beside it (its relative includes still
# resolve; named by the process, so that two compiles of one source do not meet).
_PRIVATE_EXTERN_ASM = """
    *.s|*.S) if [ -f "$arg" ]; then
        copy="${arg%.*}.private-extern.$$.${arg##*.}"
        sed -e 's/^\\([[:space:]]*\\)\\.glob[a]\\{0,1\\}l\\([[:space:]]\\)/\\1.private_extern\\2/' \\
            -e 's/^\\([[:space:]]*\\)\\.comm[[:space:]]\\{1,\\}\\([^,[:space:]]*\\)[[:space:]]*,[[:space:]]*\\(.*\\)$/\\1.private_extern \\2\\n\\1.zerofill __DATA,__bss,\\2,\\3/' \\
            "$arg" >"$copy"
        rewritten="$copy"; set -- "$@" "$copy"
      else set -- "$@" "$arg"; fi ;;"""
_LINUX_LINK = "-Wl,--strip-debug"
_WINDOWS_LINK = "-s -Wl,--out-implib"
_CRYPT_H = """/* Stand-in for glibc's <crypt.h>, which zig's glibc headers lack; CPython 3.6-3.8's
   Python.h includes it. */
#ifndef _CRYPT_H
#define _CRYPT_H 1
extern char *crypt(const char *key, const char *salt);
#endif
"""
# Declarations of CommonCrypto's random API as Apple's SDK has them (CommonCryptoError.h,
# CommonRandom.h), for OpenSSL's seeding source on macOS 10.12 and newer.
_COMMON_CRYPTO = {
    "CommonCrypto/CommonCryptoError.h": """/* Stand-in for the macOS SDK's header, which zig lacks. */
#ifndef _CC_COMMON_CRYPTO_ERROR_
#define _CC_COMMON_CRYPTO_ERROR_
#include <stdint.h>
typedef int32_t CCStatus;
typedef int32_t CCCryptorStatus;
enum { kCCSuccess = 0, kCCParamError = -4300, kCCBufferTooSmall = -4301,
       kCCMemoryFailure = -4302, kCCAlignmentError = -4303, kCCDecodeError = -4304,
       kCCUnimplemented = -4305, kCCOverflow = -4306, kCCRNGFailure = -4307,
       kCCUnspecifiedError = -4308, kCCCallSequenceError = -4309, kCCKeySizeError = -4310,
       kCCInvalidKey = -4311 };
#endif
""",
    "CommonCrypto/CommonRandom.h": """/* Stand-in for the macOS SDK's header, which zig lacks. */
#ifndef _CC_RandomSource_H_
#define _CC_RandomSource_H_
#include <stddef.h>
#include <CommonCrypto/CommonCryptoError.h>
typedef CCCryptorStatus CCRNGStatus;
CCRNGStatus CCRandomGenerateBytes(void *bytes, size_t count);
#endif
""",
}
_TOOL_WRAPPER = """#!/bin/sh
exec "{zig}" {tool} "$@"
"""
# universal2: each compile and link runs once per architecture and lipo joins the outputs,
# as clang's `-arch arm64 -arch x86_64` does on a Mac (zig takes one target). A run without
# an output file (a version probe, preprocessing) is the first architecture's alone.
_UNIVERSAL_WRAPPER = """#!/usr/bin/env bash
slices=({slices})
args=("$@"); out=""; compile=""
for ((i = 0; i < ${{#args[@]}}; i++)); do
  case "${{args[i]}}" in
    -E|-M|-MM|-S) exec {first} "$@" ;;
    -c) compile=1 ;;
    -o) out="${{args[i + 1]}}" ;;
    -o?*) out="${{args[i]#-o}}" ;;
  esac
done
if [ -z "$out" ]; then
  [ -z "$compile" ] || {{ echo "universal2 cc: a compile needs -o (one output per architecture is joined)" >&2; exit 2; }}
  exec {first} "$@"
fi
parts=()
for slice in "${{slices[@]}}"; do
  arch="${{slice%%=*}}"; cc="${{slice#*=}}"; sliced=()
  for ((i = 0; i < ${{#args[@]}}; i++)); do
    case "${{args[i]}}" in
      -o) sliced+=(-o "$out.$arch"); i=$((i + 1)) ;;
      -o?*) sliced+=("-o$out.$arch") ;;
      *) sliced+=("${{args[i]}}") ;;
    esac
  done
  "$cc" "${{sliced[@]}}"
  status=$?
  if [ $status != 0 ]; then rm -f "${{parts[@]}}" "$out.$arch"; exit $status; fi
  parts+=("$out.$arch")
done
{lipo} -create "${{parts[@]}}" -output "$out"
status=$?
rm -f "${{parts[@]}}"
exit $status
"""
_MACOS_COMPILE = "-fvisibility=hidden "
# What every macOS extension's link needs: CPython's symbols are found in the process that
# loads the module (a module linked against libpython would load a second one).
MACOS_LDFLAGS = "-Wl,-undefined,dynamic_lookup"


def zig(store: Store, index_url: str, target: Target) -> Toolchain:
    """zig cc for the target's architecture and glibc (x86_64-linux-gnu.2.17), or for Windows
    (x86_64-windows-gnu), installed into the store from the package index at `index_url`;
    raises BuilderError where the pinned zig cannot be fetched."""
    executable = _installed_zig(store, index_url)
    if target.os == "windows":
        return _windows_toolchain(store, executable, target)
    if target.os == "macos":
        if len(target.slices) > 1:
            return _universal_toolchain(store, executable, target)
        return _macos_toolchain(store, executable, target)
    assert target.libc_version is not None and target.arch.gnu_triple is not None
    triple = f"{target.arch.gnu_triple}.{target.libc_version[0]}.{target.libc_version[1]}"
    wrappers, quirks = _wrappers(store, executable, triple, _LINUX_LINK)
    return Toolchain(
        cc=str(wrappers / "cc"),
        identity=f"zig {ZIG_VERSION} cc (wrappers {quirks})",
        triple=triple,
        tools=(("AR", str(wrappers / "ar")), ("RANLIB", str(wrappers / "ranlib")),
               ("ZIG_GLOBAL_CACHE_DIR", str(store.path(Kind.TOOLS, "zig-cache"))),
               # Rust targets link through the same compiler (what maturin --zig does).
               (target.arch.cargo_linker_variable, str(wrappers / "cc"))),
        exclude_libs=False,
        downloads=((ZIG_WHEEL, ZIG_SHA256),),
        # libdl and libpthread are still libraries of their own before glibc 2.34.
        ldflags="-ldl -lpthread",
        openssl_target=target.arch.openssl_target if target.cross else None,
        objcopy=_objcopy_for(target),
    )


def _windows_toolchain(store: Store, executable: Path, target: Target) -> Toolchain:
    facts = target.arch.windows
    assert facts is not None
    wrappers, quirks = _wrappers(store, executable, facts.zig_triple, _WINDOWS_LINK)
    return Toolchain(
        cc=str(wrappers / "cc"),
        identity=f"zig {ZIG_VERSION} cc (wrappers {quirks})",
        triple=facts.zig_triple,
        tools=(("AR", str(wrappers / "ar")), ("RANLIB", str(wrappers / "ranlib")),
               ("ZIG_GLOBAL_CACHE_DIR", str(store.path(Kind.TOOLS, "zig-cache")))),
        exclude_libs=False,
        downloads=((ZIG_WHEEL, ZIG_SHA256),),
        # What OpenSSL's objects call in Windows itself (sockets, the certificate store).
        ldflags="-lws2_32 -lcrypt32 -lgdi32 -luser32 -ladvapi32",
        openssl_target=facts.mingw_openssl_target,
        objcopy="llvm-objcopy",
        nm="llvm-nm",
        symbol_prefix="_" if facts.leading_underscore else "",
        link_map=False,
    )


def _macos_toolchain(store: Store, executable: Path, target: Target) -> Toolchain:
    facts = target.arch.macos
    assert facts is not None and target.libc_version is not None
    triple = f"{facts.zig_arch}-macos.{target.libc_version[0]}.{target.libc_version[1]}"
    # The extension compiles as on a Mac (its own symbols keep their visibility: a package
    # may look them up with ctypes); OpenSSL's objects all compile hidden.
    wrappers, quirks = _wrappers(store, executable, triple, "")
    hidden, hidden_quirks = _wrappers(store, executable, triple, "", _MACOS_COMPILE,
                                      _COMMON_CRYPTO, _PRIVATE_EXTERN_ASM)
    return Toolchain(
        cc=str(wrappers / "cc"),
        openssl_cc=str(hidden / "cc"),
        identity=f"zig {ZIG_VERSION} cc (wrappers {quirks}, OpenSSL's {hidden_quirks})",
        triple=triple,
        tools=(("AR", str(wrappers / "ar")), ("RANLIB", str(wrappers / "ranlib")),
               ("ZIG_GLOBAL_CACHE_DIR", str(store.path(Kind.TOOLS, "zig-cache")))),
        exclude_libs=False,
        downloads=((ZIG_WHEEL, ZIG_SHA256),),
        ldflags=MACOS_LDFLAGS,
        openssl_target=facts.openssl_target,
        objcopy="llvm-objcopy",
        nm="llvm-nm",
        symbol_prefix="_",  # Mach-O spells every C name with a leading `_`
        link_map=False,
    )


def _universal_toolchain(store: Store, executable: Path, target: Target) -> Toolchain:
    """One compiler for universal2: the slices' zig wrappers, run in turn, joined by
    llvm-lipo. Its OpenSSL is the slices' builds joined (no ./Configure target of its own)."""
    slices = [_macos_toolchain(store, executable, part) for part in target.slices]
    lipo = llvm_tool("llvm-lipo")
    names = " ".join(shlex.quote(f"{part.arch.macos.plat_arch}={toolchain.cc}")  # type: ignore
                     for part, toolchain in zip(target.slices, slices))
    text = _UNIVERSAL_WRAPPER.format(first=shlex.quote(slices[0].cc), slices=names,
                                     lipo=shlex.quote(lipo))
    key = f"{_WRAPPERS_KEY}/universal2-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    wrapper = store.materialize(Kind.TOOLS, key,
                                lambda temp: _write_script(temp / "cc", text),
                                reuse=lambda path: (path / "cc").exists()).path / "cc"
    return Toolchain(
        cc=str(wrapper),
        openssl_cc=slices[0].openssl_cc,  # unused: each slice's OpenSSL is built on its own
        identity=" + ".join(t.identity for t in slices),
        triple=" + ".join(t.triple for t in slices),
        tools=slices[0].tools,
        exclude_libs=False,
        downloads=((ZIG_WHEEL, ZIG_SHA256),),
        ldflags=MACOS_LDFLAGS,
        objcopy="llvm-objcopy",
        nm="llvm-nm",
        symbol_prefix="_",
        link_map=False,
    )


def zig_executable(store: Store, index_url: str) -> Path:
    """The pinned zig executable (`zig cc`, `zig dlltool`), installed into the store on first
    use; raises BuilderError where it cannot be fetched."""
    return _installed_zig(store, index_url)


def _wrappers(store: Store, executable: Path, triple: str, link_flags: str,
              compile_flags: str = "", headers: Optional[Mapping[str, str]] = None,
              asm_case: str = "") -> Tuple[Path, str]:
    """The wrapper directory of one zig target in the store, and the hash of the wrappers'
    text: part of the toolchain's identity, so a changed quirk is a new cache key.
    `compile_flags` go before every command's own; `headers` (path: text) are searched after
    every other include directory, beside the crypt.h stand-in; `asm_case` handles assembly
    sources (a case branch of the wrapper's argument filter)."""
    headers = {"crypt.h": _CRYPT_H, **(headers or {})}
    text = [_CC_WRAPPER, link_flags, compile_flags, asm_case, _TOOL_WRAPPER,
            *(name + body for name, body in sorted(headers.items()))]
    quirks = hashlib.sha256("".join(text).encode()).hexdigest()[:12]
    # The wrappers name zig and their own folder by path: one set per path the store is seen
    # by (a --sccache run sees it through its workspace's link, gone after the run).
    where = hashlib.sha256(str(executable).encode()).hexdigest()[:8]
    key = f"{_WRAPPERS_KEY}/{triple}-{quirks}-{where}"
    wrappers = store.path(Kind.TOOLS, key)
    store.materialize(Kind.TOOLS, key,
                      lambda temp: _write_wrappers(temp, wrappers, executable, triple,
                                                   link_flags, compile_flags, headers, asm_case),
                      reuse=lambda path: (path / "cc").exists())
    return wrappers, quirks


def _write_wrappers(temp: Path, final: Path, executable: Path, target: str,
                    link_flags: str, compile_flags: str, headers: Dict[str, str],
                    asm_case: str) -> None:
    """The compiler, ar and ranlib wrappers of one target, written into `temp`; they name
    their `final` directory."""
    _write_script(temp / "cc", _CC_WRAPPER.format(
        zig=executable, target=target, zig_version=ZIG_VERSION, link_flags=link_flags,
        compile_flags=compile_flags, asm_case=asm_case, fallback_include=final / "include"))
    for name, text in headers.items():
        (temp / "include" / name).parent.mkdir(parents=True, exist_ok=True)
        (temp / "include" / name).write_text(text)
    for tool in ("ar", "ranlib"):
        _write_script(temp / tool, _TOOL_WRAPPER.format(zig=executable, tool=tool))


def _objcopy_for(target: Target) -> str:
    """The host's objcopy knows only its own architectures: another one needs llvm-objcopy
    (any architecture) or binutils for that target."""
    if not target.cross:
        return "objcopy"
    if shutil.which("llvm-objcopy"):
        return "llvm-objcopy"
    return f"{target.arch.gnu_triple}-objcopy"


def _installed_zig(store: Store, index: str) -> Path:
    """The pinned zig executable, unpacked into the cache from its wheel on first use."""
    entry = store.materialize(Kind.TOOLS, _ZIG_KEY, lambda temp: _unpack_zig(store, index, temp),
                              reuse=lambda path: (path / "ziglang" / "zig").exists(),
                              identity=identity_json({"entry": "zig", "wheel": ZIG_WHEEL,
                                                      "sha256": ZIG_SHA256}))
    return entry.path / "ziglang" / "zig"


def _unpack_zig(store: Store, index: str, temp: Path) -> None:
    wheel = cached_download(store, ZIG_WHEEL, _zig_wheel_urls(index),
                            Expected(sha256=ZIG_SHA256, gzip=False), label=ZIG_WHEEL,
                            advice=_ZIG_ADVICE).path
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(temp, [n for n in archive.namelist() if n.startswith("ziglang/")])
    (temp / "ziglang" / "zig").chmod(0o755)


def _zig_wheel_urls(index: str) -> Iterator[str]:
    """Where `index` offers the pinned zig wheel; asked only once iterated."""
    files = index_files(index, "ziglang", (".whl",), advice=_ZIG_ADVICE)
    urls = [f.url for f in files if f.filename == ZIG_WHEEL]
    if not urls:
        raise BuilderError(f"{index} does not offer {ZIG_WHEEL}, the pinned zig; {_ZIG_ADVICE}")
    yield from urls


def _write_script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)
