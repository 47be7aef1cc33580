"""The compiler wrappers zig runs behind, run with stand-in compilers (no compile): the macOS
rewrite of assembly globals and commons into private extern ones for OpenSSL's objects alone,
and the universal2 wrapper that runs every compile and link once per architecture and joins
the outputs, in a cache whose path holds a space."""

import subprocess

import pytest

from builder.cache import Store
from builder.platforms import zig
from builder.target import resolve_target

# A stand-in for `zig`: `zig cc ... -o OUT ... SOURCE`: writes the target and the source's
# text (or, for a link, the inputs' text) into OUT; `FAIL_FOR=<target>` makes it fail.
STAND_IN = """#!/bin/sh
shift  # cc
target=""; out=""; inputs=""
while [ $# -gt 0 ]; do
  case "$1" in
    -target) target="$2"; shift ;;
    -o) out="$2"; shift ;;
    -o?*) out="${1#-o}" ;;
    -idirafter) shift ;;
    -*) ;;
    *) inputs="$inputs $1" ;;
  esac
  shift
done
if [ "$FAIL_FOR" = "$target" ]; then exit 7; fi
{ echo "target $target"; for f in $inputs; do if [ -f "$f" ]; then cat "$f"; fi; done; } > "$out"
exit 0
"""
LIPO = """#!/bin/sh
# llvm-lipo -create A B -output OUT: the parts' text, joined
out=""; parts=""
while [ $# -gt 0 ]; do
  case "$1" in -create) ;; -output) out="$2"; shift ;; *) parts="$parts $1" ;; esac
  shift
done
cat $parts > "$out"
"""


@pytest.fixture
def store(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "llvm-lipo").write_text(LIPO)
    (bin_dir / "llvm-lipo").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    executable = tmp_path / "zig dir" / "zig"
    executable.parent.mkdir()
    executable.write_text(STAND_IN)
    executable.chmod(0o755)
    monkeypatch.setattr(zig, "_installed_zig", lambda store, index: executable)
    return Store(tmp_path / "a cache")


ASM = (".text\n.globl\t_f\n_f:\n\tret\n  .global _g\n.comm\t_OPENSSL_ia32cap_P,16,4\n"
       ".globlx _not_a_directive\n")


def test_openssls_assembly_becomes_private_extern_and_the_extensions_stays(store, tmp_path):
    toolchain = zig.zig(store, "unused", resolve_target("macosx_10_13_x86_64"))
    source = tmp_path / "x86_64cpuid.s"
    source.write_text(ASM)
    subprocess.run([toolchain.openssl_cc, "-c", str(source), "-o", str(tmp_path / "a.o")],
                   check=True)
    text = (tmp_path / "a.o").read_text()
    assert ".private_extern\t_f\n" in text and ".private_extern _g\n" in text
    assert ".private_extern _OPENSSL_ia32cap_P\n.zerofill __DATA,__bss,_OPENSSL_ia32cap_P,16,4\n" \
        in text
    assert ".globlx _not_a_directive" in text
    assert not list(tmp_path.glob("*.private-extern.*"))  # the copy is gone
    subprocess.run([toolchain.cc, "-c", str(source), "-o", str(tmp_path / "b.o")], check=True)
    assert ".globl\t_f" in (tmp_path / "b.o").read_text()


def test_an_assembly_file_named_as_the_output_is_not_rewritten(store, tmp_path):
    toolchain = zig.zig(store, "unused", resolve_target("macosx_11_0_arm64"))
    (tmp_path / "m.c").write_text("int m;\n")
    (tmp_path / "out.s").write_text("old output\n")
    subprocess.run([toolchain.openssl_cc, "-c", str(tmp_path / "m.c"), "-o",
                    str(tmp_path / "out.s")], check=True)
    assert "int m;" in (tmp_path / "out.s").read_text()


def test_universal2_runs_each_compile_per_architecture_and_joins_the_outputs(store, tmp_path):
    toolchain = zig.zig(store, "unused", resolve_target("macosx_10_13_universal2"))
    (tmp_path / "m.c").write_text("int m;\n")
    for output in (["-o", str(tmp_path / "m.o")], [f"-o{tmp_path / 'm.o'}"]):
        subprocess.run([toolchain.cc, "-c", str(tmp_path / "m.c"), *output], check=True)
        text = (tmp_path / "m.o").read_text()
        assert "target aarch64-macos.11.0" in text and "target x86_64-macos.10.13" in text
        assert not list(tmp_path.glob("m.o.*"))  # the per-architecture parts are gone


def test_universal2_refuses_a_compile_without_an_output_and_passes_a_failure_on(store,
                                                                                tmp_path):
    toolchain = zig.zig(store, "unused", resolve_target("macosx_10_13_universal2"))
    (tmp_path / "m.c").write_text("int m;\n")
    done = subprocess.run([toolchain.cc, "-c", str(tmp_path / "m.c")], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 2 and "a compile needs -o" in done.stderr
    failed = subprocess.run([toolchain.cc, "-c", str(tmp_path / "m.c"), "-o",
                             str(tmp_path / "m.o")], env={"FAIL_FOR": "x86_64-macos.10.13",
                                                          "PATH": "/usr/bin:/bin"})
    assert failed.returncode == 7
    assert not (tmp_path / "m.o").exists() and not list(tmp_path.glob("m.o.*"))


def test_wrappers_made_through_the_sccache_workspace_are_the_same_files_for_any_cache_root(
        tmp_path, monkeypatch):
    """sccache hashes the compiler's bytes: wrappers made for a store seen through the
    workspace (as a --sccache run makes its toolchain) name zig and their stand-in headers
    by the workspace's fixed paths, never by the cache root."""
    from pathlib import Path

    from builder.cache import Kind
    from builder.compile_cache import workspace
    monkeypatch.setattr(zig, "_installed_zig",
                        lambda store, index: store.path(Kind.TOOLS, "zig") / "zig")
    wrappers = []
    for root in ("first root", "second root"):
        (tmp_path / root).mkdir()
        with workspace(True, tmp_path / root) as (cache, _):
            toolchain = zig.zig(Store(cache), "unused", resolve_target("manylinux2014_x86_64"))
            wrappers.append(Path(toolchain.cc).read_bytes())
    assert wrappers[0] == wrappers[1] and b"root" not in wrappers[0]
