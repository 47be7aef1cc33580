"""Reading what the linker and the compiler said: which OpenSSL objects, headers and shared
libraries a build took, from GNU ld's and lld's (zig's) link maps alike."""

from pathlib import Path

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


def test_a_member_is_named_by_the_whole_word_of_its_archive_wherever_the_word_starts():
    # A long symbol before it on the line, the archive inside parentheses, or glued to text
    # without a space: the archive is the whole word, never a tail of it.
    symbol = "_ZN4core3fmt" + "x" * 400
    trace = (f" .text.{symbol}\n 0x10 0x1c ../deps/libopenssl_sys-1f.rlib(libcrypto-lib-a.o)\n"
             f"(/o/libssl.a(libssl-lib-b.o))\nLOAD=/o/libcrypto.a(libcrypto-lib-c.o)\n"
             f"{symbol}.a(not-a-member)x\n")
    assert members(trace) == [("../deps/libopenssl_sys-1f.rlib", "libcrypto-lib-a.o"),
                              ("/o/libssl.a", "libssl-lib-b.o"),
                              ("LOAD=/o/libcrypto.a", "libcrypto-lib-c.o"),
                              (f"{symbol}.a", "not-a-member")]


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
