"""The builder's own checks of every ELF in a wheel, on small real shared objects the host's
compiler makes."""

import dataclasses
import subprocess
import zipfile

import pytest

from builder.errors import CheckFailed, InputError
from builder.policy import policy_for
from builder.platforms.linux import LINUX
from builder.repair import check_wheel, problems, refuse_shared_openssl_loads, shared_openssl_loads
from tests.unit.test_repair_checks import facts, wheel_of


EXTENSION = r"""
#include <Python.h>
static const char text[] = "%s";
const char *openssl_text(void) { return text; }
PyMODINIT_FUNC PyInit_ext(void) { return 0; }
"""


def compile_so(tmp_path, name, source, *flags):
    c = tmp_path / f"{name}.c"
    c.write_text(source)
    out = tmp_path / f"{name}.so"
    include = subprocess.run(["python3", "-c", "import sysconfig;print(sysconfig.get_paths()"
                              "['include'])"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["cc", "-shared", "-fPIC", f"-I{include}", "-o", str(out), str(c), *flags],
                   check=True, capture_output=True)
    return out


def extension(tmp_path, version_text="OpenSSL 3.0.22 25 Aug 2026", *flags):
    return compile_so(tmp_path, "ext", EXTENSION % version_text, *flags)


def test_extension_with_the_pinned_version_text_passes(tmp_path):
    assert problems(LINUX, [facts(extension(tmp_path))], "3.0.22") == []


def test_extension_is_recognised_by_its_pyinit_export(tmp_path):
    assert facts(extension(tmp_path)).is_extension


def test_version_text_of_1_1_1_with_its_double_space_is_read(tmp_path):
    assert facts(extension(tmp_path, "OpenSSL 1.1.1w  11 Sep 2023")).openssl_versions == \
        ("1.1.1w",)


def test_other_openssl_version_text_is_refused(tmp_path):
    [problem] = problems(LINUX, [facts(extension(tmp_path))], "3.5.7")
    assert "carries OpenSSL version text 3.0.22, expected 3.5.7" in problem


def test_a_binary_the_linker_saw_take_openssl_must_carry_its_version_text(tmp_path):
    ext = facts(extension(tmp_path, "no version here"))
    found = problems(LINUX, [ext], "3.0.22", uses_openssl={ext.name: True})
    assert any("carries OpenSSL version text none, expected 3.0.22" in p for p in found)


def test_a_binary_that_links_no_openssl_must_carry_none(tmp_path):
    ext = facts(extension(tmp_path))
    other = facts(compile_so(tmp_path, "helper", "int f(void) { return 1; }"))
    found = problems(LINUX, [ext, other], "3.0.22", uses_openssl={ext.name: False, other.name: True})
    assert f"{ext.name} links no OpenSSL object yet carries OpenSSL version text 3.0.22" \
        in found


def test_needing_a_shared_libcrypto_is_refused(tmp_path):
    stub = compile_so(tmp_path, "libcrypto", "int stub;", "-Wl,-soname,libcrypto.so.3")
    ext = extension(tmp_path, "OpenSSL 3.0.22 25 Aug 2026", "-Wl,--no-as-needed",
                    f"-L{tmp_path}", "-l:libcrypto.so")
    ext_facts = facts(ext)
    assert "libcrypto.so.3" in ext_facts.needed
    [problem] = problems(LINUX, [ext_facts], "3.0.22")
    assert "needs the shared libcrypto.so.3" in problem
    assert stub.exists()


def test_executable_stack_is_refused(tmp_path):
    ext = extension(tmp_path, "OpenSSL 3.0.22 25 Aug 2026", "-Wl,-z,execstack")
    assert facts(ext).executable_stack
    assert any("executable stack" in p for p in problems(LINUX, [facts(ext)], "3.0.22"))


def test_a_wheel_of_which_nothing_links_openssl_is_refused(tmp_path):
    library = compile_so(tmp_path, "plain", "int f(void) { return 1; }")
    assert "nothing in the wheel links OpenSSL" in problems(LINUX, [facts(library)], "3.0.22")[0]


def test_an_executable_is_judged_like_an_extension_module(tmp_path):
    # uwsgi's kind: the binary that carries OpenSSL is a program in .data/scripts.
    program = tmp_path / "tool"
    source = tmp_path / "tool.c"
    source.write_text('const char *v = "OpenSSL 3.0.19 27 Jan 2026";\n'
                      "int main(void) { return v[0] == 0; }\n")
    subprocess.run(["cc", "-o", str(program), str(source)], check=True)
    tool = dataclasses.replace(facts(program), name="tool-1.0.data/scripts/tool")
    [problem] = problems(LINUX, [tool], "3.0.22")
    assert "tool-1.0.data/scripts/tool carries OpenSSL version text 3.0.19, expected 3.0.22" \
        in problem


def test_check_wheel_reads_every_elf_inside_the_zip(tmp_path):
    ext = extension(tmp_path)
    wheel = tmp_path / "pkg-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(ext, "pkg/_ext.cpython-311-x86_64-linux-gnu.so")
        archive.writestr("pkg/__init__.py", "")
    assert [e.name for e in check_wheel(LINUX, wheel, "3.0.22", "before repair")] == \
        ["pkg/_ext.cpython-311-x86_64-linux-gnu.so"]
    with pytest.raises(CheckFailed, match="before repair: .*expected 1.1.1w"):
        check_wheel(LINUX, wheel, "1.1.1w", "before repair")


def test_exporting_an_openssl_symbol_is_refused(tmp_path):
    leaky = compile_so(tmp_path, "leaky", EXTENSION % "OpenSSL 3.0.22 25 Aug 2026"
                       + "int EVP_sha256(void) { return 0; }\n")
    found = problems(LINUX, [facts(leaky)], "3.0.22", frozenset({"EVP_sha256", "SSL_new"}))
    assert found == ["leaky.so exports 1 OpenSSL symbols (EVP_sha256, ...)"]


def test_exported_symbols_of_the_package_itself_are_fine(tmp_path):
    own = compile_so(tmp_path, "own", EXTENSION % "OpenSSL 3.0.22 25 Aug 2026"
                     + "int crypto_scrypt(void) { return 0; }\n")
    assert problems(LINUX, [facts(own)], "3.0.22", frozenset({"EVP_sha256"})) == []


# A symbol that glibc versioned at 2.34 on x86_64 (the host's glibc is 2.36).
NEW_GLIBC = EXTENSION % "OpenSSL 3.0.22 25 Aug 2026" + r"""
#include <pthread.h>
static void *run(void *arg) { return arg; }
int start(void) { pthread_t t; return pthread_create(&t, 0, run, 0); }
"""


def test_symbol_versions_needed_are_read_with_the_symbols_that_need_them(tmp_path):
    needed = dict(facts(compile_so(tmp_path, "threads", NEW_GLIBC)).versions_needed)
    assert "pthread_create" in needed["GLIBC_2.34"]


def test_policy_names_the_symbol_that_breaks_it(tmp_path):
    elf = facts(compile_so(tmp_path, "threads", NEW_GLIBC))
    [violation] = policy_for("manylinux2014_x86_64").violations(elf.name, elf.versions_needed)
    assert violation == ("threads.so needs GLIBC_2.34 (pthread_create), newer than "
                         "manylinux_2_17_x86_64 allows")


def test_policy_that_allows_the_versions_finds_nothing(tmp_path):
    elf = facts(compile_so(tmp_path, "threads", NEW_GLIBC))
    assert policy_for("manylinux_2_34_x86_64").violations(elf.name, elf.versions_needed) == []


def test_every_part_of_a_compound_tag_is_checked(tmp_path):
    elf = facts(compile_so(tmp_path, "threads", NEW_GLIBC))
    with pytest.raises(CheckFailed, match="needs GLIBC_2.34 .*manylinux_2_17_x86_64"):
        LINUX.check_platform([elf], "manylinux2014_x86_64.manylinux_2_17_x86_64", "after repair", "w.whl")


def test_an_elf_for_another_architecture_breaks_the_policy(tmp_path):
    elf = facts(extension(tmp_path))  # built for this x86_64 host
    [violation] = policy_for("manylinux2014_aarch64").violations(
        elf.name, elf.versions_needed, elf.machine)
    assert violation == "ext.so is built for EM_X86_64, not aarch64 (EM_AARCH64)"


DLOPENER = EXTENSION % "OpenSSL 3.0.22 25 Aug 2026" + r"""
#include <dlfcn.h>
void *load(void) { return dlopen("libcrypto.so.3", RTLD_NOW); }
"""


def test_an_extension_that_dlopens_libcrypto_is_refused_naming_what_it_opens(tmp_path):
    so = compile_so(tmp_path, "ext", DLOPENER, "-ldl")
    wheel = wheel_of(tmp_path, {"ext.so": so.read_bytes()})
    assert shared_openssl_loads(LINUX, wheel) == ["ext.so opens libcrypto.so.3"]
    with pytest.raises(InputError, match="loads a shared OpenSSL at run time"):
        refuse_shared_openssl_loads(LINUX, wheel)


def test_an_extension_that_only_links_the_static_openssl_loads_nothing(tmp_path):
    wheel = wheel_of(tmp_path, {"ext.so": extension(tmp_path).read_bytes(),
                                "pkg/__init__.py": "import ssl\n"})
    assert shared_openssl_loads(LINUX, wheel) == []
