"""The compiler wrapper, run around the host's real compiler: what it records of each
compile and link."""

import pytest

from builder.link_proof import LinkAudit


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
