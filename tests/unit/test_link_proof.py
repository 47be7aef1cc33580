"""Reading what the linker and the compiler said: which OpenSSL objects, headers and shared
libraries a build took, from GNU ld's and lld's (zig's) link maps alike."""

from pathlib import Path

import pytest

from builder.cc_audit import members, shared_openssl
from builder.link_proof import LinkAudit, foreign_headers, foreign_inputs, openssl_objects
from builder.openssl import CacheKey, OpenSSLBuild

PINNED = Path("/cache/openssl/openssl-3.0.22-abc")
BUILD = OpenSSLBuild(version="3.0.22", prefix=PINNED,
                     key=CacheKey("3.0.22", "0" * 64, (), "r", "cc", "x86_64-linux-gnu"),
                     configure_args=(), tarball_sha256="0" * 64, origin="test", reused=True,
                     log=PINNED / "build.log")

GNU_MAP = f"""\
Archive member included to satisfy reference by file (symbol)

/usr/lib/x86_64-linux-gnu/libcrypto.a(libcrypto-lib-ts_asn1.o)
                              t.o (TS_REQ_new)
{PINNED}/lib/libcrypto.a(libcrypto-lib-cversion.o)
                              t.o (OpenSSL_version)
LOAD /usr/lib/x86_64-linux-gnu/libc.so
 .text          0x0000000000001000       0x20 {PINNED}/lib/libcrypto.a(libcrypto-lib-cversion.o)
"""
LLD_MAP = f"""\
             VMA              LMA     Size Align Out     In      Symbol
            1000             1000       20    16 .text
            1000             1000       20    16         {PINNED}/lib/libssl.a(libssl-lib-methods.o):(.text)
            1020             1020       10    16         /tmp/b/target/release/deps/libopenssl_sys-1f.rlib(libdefault-lib-sha2_prov.o):(.text)
            1030             1030       10    16         /usr/lib/x86_64-linux-gnu/libssl.so.3:(.dynsym)
"""


def link(trace, cwd="/tmp/b"):
    return {"trace": trace, "cwd": cwd}


def test_members_are_read_from_a_gnu_ld_map_once_each():
    assert members(GNU_MAP) == [
        ("/usr/lib/x86_64-linux-gnu/libcrypto.a", "libcrypto-lib-ts_asn1.o"),
        (f"{PINNED}/lib/libcrypto.a", "libcrypto-lib-cversion.o")]


def test_members_and_shared_libraries_are_read_from_an_lld_map():
    assert [m for _, m in members(LLD_MAP)] == ["libssl-lib-methods.o",
                                                "libdefault-lib-sha2_prov.o"]
    assert shared_openssl(LLD_MAP) == ["/usr/lib/x86_64-linux-gnu/libssl.so.3"]


def test_objects_of_another_libcrypto_are_foreign_and_named():
    assert foreign_inputs(link(GNU_MAP), BUILD) == [
        "/usr/lib/x86_64-linux-gnu/libcrypto.a(libcrypto-lib-ts_asn1.o)"]


def test_an_object_bundled_into_an_rlib_is_pinned_only_with_the_pinned_bytes():
    rlib = "/tmp/b/target/release/deps/libopenssl_sys-1f.rlib"
    key = (rlib, "libdefault-lib-sha2_prov.o")
    assert foreign_inputs(link(LLD_MAP), BUILD, {key: True}) == [
        "/usr/lib/x86_64-linux-gnu/libssl.so.3"]
    assert f"{rlib}(libdefault-lib-sha2_prov.o)" in foreign_inputs(link(LLD_MAP), BUILD,
                                                                   {key: False})


def test_relative_archive_paths_are_resolved_from_where_the_link_ran():
    trace = "../vendor/libcrypto.a(libcrypto-lib-x.o)\n"
    assert openssl_objects(link(trace, cwd="/tmp/b/src")) == [
        ("/tmp/b/vendor/libcrypto.a", "libcrypto-lib-x.o")]


def test_a_link_that_took_no_openssl_object_uses_none():
    assert openssl_objects(link("/usr/lib/libz.a(deflate.o)\nt.o\n")) == []


def test_headers_outside_the_pinned_include_directory_are_foreign(tmp_path):
    audit = LinkAudit(tmp_path)
    (tmp_path / "deps-1.json").write_text(
        '{"cwd": "/tmp/b/src", "deps": "m.o: m.c openssl/opensslv.h \\\\\\n '
        f'{PINNED}/include/openssl/evp.h /usr/include/stdio.h\\n"}}')
    assert audit.headers() == {"/tmp/b/src/openssl/opensslv.h",
                               f"{PINNED}/include/openssl/evp.h", "/usr/include/stdio.h"}
    assert foreign_headers(audit.headers(), BUILD) == ["/tmp/b/src/openssl/opensslv.h"]


def wrapper(tmp_path, *args, real=("cc",)):
    import json
    import subprocess
    import sys

    from builder import cc_audit
    return subprocess.run([sys.executable, cc_audit.__file__, str(tmp_path),
                           json.dumps(list(real)), *args],
                          capture_output=True, text=True, cwd=tmp_path)


def test_the_wrapper_records_a_link_with_its_map_and_output_digest(tmp_path):
    import hashlib
    import json

    (tmp_path / "m.c").write_text("int main(void) { return 0; }\n")
    assert wrapper(tmp_path, "m.c", "-o", "m").returncode == 0
    [record] = [json.loads(p.read_text()) for p in tmp_path.glob("link-*.json")]
    assert record["output"] == str(tmp_path / "m") and record["cwd"] == str(tmp_path)
    assert record["sha256"] == hashlib.sha256((tmp_path / "m").read_bytes()).hexdigest()
    assert "libc" in record["trace"] and not record["version_object_added"]


def test_a_link_with_a_version_script_is_a_link_not_a_query(tmp_path):
    # rustc links every cdylib with -Wl,--version-script=...
    (tmp_path / "m.c").write_text("int f(void) { return 0; }\n")
    (tmp_path / "v.map").write_text("{ global: f; local: *; };\n")
    assert wrapper(tmp_path, "-c", "-fPIC", "m.c", "-o", "m.o").returncode == 0
    done = wrapper(tmp_path, "-shared", "m.o", "-Wl,--version-script=v.map", "-o", "m.so")
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("link-*.json"))) == 1


@pytest.mark.parametrize("args", [
    ["-c", "m.c", "-o", "m.o"],
    ["-c", "m.c", "-o", "m.o", "-MMD", "-MF", "own.d"],  # make, ninja: their own list, kept
    ["-c", "m.c", "-MD"],
    ["-shared", "-fPIC", "m.c", "-o", "m.so"],  # compiled and linked in one step
])
def test_the_wrapper_records_the_headers_of_each_compile_system_headers_too(tmp_path, args):
    (tmp_path / "m.c").write_text("#include <stdio.h>\nint f(void) { return 0; }\n")
    done = wrapper(tmp_path, *args, real=("cc", "-O0"))  # a compiler given with arguments
    assert done.returncode == 0, done.stderr
    assert "/usr/include/stdio.h" in LinkAudit(tmp_path).headers()
    if "own.d" in args:
        assert (tmp_path / "own.d").is_file()


def test_queries_of_the_compiler_and_linker_pass_through_untouched(tmp_path):
    # meson and configure scripts ask who the linker is: the answer must reach them.
    done = wrapper(tmp_path, "-Wl,--version")
    assert done.returncode == 0 and "GNU ld" in done.stdout
    assert wrapper(tmp_path, "-dumpmachine").stdout.strip().endswith("linux-gnu")
    (tmp_path / "m.c").write_text("int f(void) { return 0; }\n")
    assert wrapper(tmp_path, "-fsyntax-only", "m.c").returncode == 0
    assert list(tmp_path.glob("link-*.json")) == []
