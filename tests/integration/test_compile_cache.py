"""sccache as the builder runs it: a private server on a Unix socket, compiles through a shim
of the compiler's own name, served from its cache the second time; what is not a C compile
(OpenSSL's perlasm asking the assembler its version, an assembly source) reaches the compiler
itself, unchanged."""

import os
import shutil
import subprocess

import pytest

from builder.compile_cache import sccache_server


@pytest.fixture
def sccache_env(tmp_path, monkeypatch):
    if shutil.which("gcc") is None:
        pytest.fail("this test needs gcc")
    # A local disk backend, private to the test.
    monkeypatch.setenv("SCCACHE_DIR", str(tmp_path / "sccache-dir"))
    return tmp_path


def test_a_second_compile_of_the_same_source_is_a_cache_hit(sccache_env):
    scratch = sccache_env / "scratch"
    scratch.mkdir()
    (scratch / "x.c").write_text("int answer(void) { return 42; }\n")
    with sccache_server(True, scratch, [scratch], sccache_env / "sccache.log") as sccache:
        shims = sccache.shim(scratch / "shims", "gcc", [shutil.which("gcc")])
        env = {**os.environ, **sccache.build_env(),
               "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
        for out in ("a.o", "b.o"):
            subprocess.run(["gcc", "-c", "x.c", "-o", out], cwd=scratch, env=env, check=True)
        stats = sccache.stats()
    assert stats["compile_requests"] == 2
    assert (stats["cache_misses"], stats["cache_hits"]) == (1, 1)
    assert (scratch / "a.o").read_bytes() == (scratch / "b.o").read_bytes()


def test_an_assembler_query_and_an_assembly_source_bypass_sccache(sccache_env):
    scratch = sccache_env / "scratch"
    scratch.mkdir()
    (scratch / "y.s").write_text(".text\n.globl f\nf:\n ret\n"
                                 ".section .note.GNU-stack,\"\",@progbits\n")
    with sccache_server(True, scratch, [scratch], sccache_env / "sccache.log") as sccache:
        shims = sccache.shim(scratch / "shims", "cc", [shutil.which("gcc")])
        env = {**os.environ, **sccache.build_env(),
               "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
        # What OpenSSL's x86_64-xlate.pl asks to learn its assembler's version.
        asked = subprocess.run(["cc", "-Wa,-v", "-c", "-o", "/dev/null", "-x", "assembler",
                                "/dev/null"], env=env, capture_output=True, text=True)
        subprocess.run(["cc", "-c", "y.s", "-o", "y.o"], cwd=scratch, env=env, check=True)
        stats = sccache.stats()
    assert "GNU assembler version" in asked.stderr
    assert stats["compile_requests"] == 0
    sections = subprocess.run(["readelf", "-S", str(scratch / "y.o")], capture_output=True,
                              text=True, check=True).stdout
    assert ".note.GNU-stack" in sections


def test_without_the_setting_no_server_runs(tmp_path):
    with sccache_server(False, tmp_path, [tmp_path], tmp_path / "log") as sccache:
        assert sccache is None
    assert not (tmp_path / "sccache.sock").exists()


def test_a_rust_cdylib_is_counted_as_not_cacheable_with_its_reason(sccache_env):
    scratch = sccache_env / "scratch"
    scratch.mkdir()
    (scratch / "lib.rs").write_text("#[no_mangle]\npub extern \"C\" fn answer() -> i32 { 42 }\n")
    with sccache_server(True, scratch, [scratch], sccache_env / "sccache.log") as sccache:
        # As cargo runs rustc through RUSTC_WRAPPER: the wrapper, then rustc's command line.
        subprocess.run([sccache.executable, shutil.which("rustc"), "--crate-type", "cdylib",
                        "--crate-name", "answer", "--edition", "2021", "lib.rs",
                        "--out-dir", "out"], cwd=scratch, env={**os.environ, **sccache.env},
                       check=True)
        stats = sccache.stats()
    assert stats["cache_hits"] == stats["cache_misses"] == 0
    assert stats["not_cached"] == {"crate-type": 1}
    assert list((scratch / "out").glob("libanswer.so"))
