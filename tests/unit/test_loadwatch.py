"""The smoke test's watch over shared OpenSSL loads: which names and mappings count."""

import json
import ntpath

import pytest

from builder import loadwatch
from builder.loadwatch import (LoadWatch, names_openssl, openssl_among, paths_in_maps,
                               problems)


@pytest.mark.parametrize("name", ["libcrypto.so.3", "libssl.so", "crypto", "ssl",
                                  "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
                                  "libcrypto-3-x64.dll", "libssl-1_1.dll", "libeay32.dll",
                                  "ssleay32", "libcrypto.3.dylib", "LIBCRYPTO.SO.1.1",
                                  "libcrypto-3", "C:\\py\\libcrypto-3.dll",
                                  "Z:\\tmp\\x\\libssl-3-x64.dll", b"C:\\py\\LIBSSL-1_1.DLL"])
def test_names_of_a_shared_openssl(name):
    assert names_openssl(name)


@pytest.mark.parametrize("name", [None, "", "libc.so.6", "libcryptsetup.so.12", "libz.so.1",
                                  "/usr/lib/libsslcommon.so", "libpython3.11.so",
                                  "libcryptography.dll", "_ssl.pyd", "C:\\py\\_ssl.pyd",
                                  "C:\\libssl-3\\python313.dll"])
def test_other_libraries_are_not_openssl(name):
    assert not names_openssl(name)


MAPS = """\
7f0000000000-7f0000001000 r--p 00000000 fe:01 1 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7f0000001000-7f0000002000 r-xp 00001000 fe:01 1 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7f0000003000-7f0000004000 r--p 00000000 fe:01 2 /opt/x/site-packages/pkg.libs/libssl-ab12cd.so.3
7f0000005000-7f0000006000 r--p 00000000 fe:01 3 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000007000-7f0000008000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00001000 rw-p 00000000 00:00 0 [stack]
"""


def test_maps_list_each_file_once_and_no_anonymous_mapping():
    assert paths_in_maps(MAPS) == ["/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
                                   "/opt/x/site-packages/pkg.libs/libssl-ab12cd.so.3",
                                   "/usr/lib/x86_64-linux-gnu/libc.so.6"]


def test_mapped_openssl_lists_each_library_once():
    assert openssl_among(paths_in_maps(MAPS)) == [
        "/opt/x/site-packages/pkg.libs/libssl-ab12cd.so.3",
        "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"]


# What K32EnumProcessModules and GetModuleFileNameW list in python.exe after `import _ssl`,
# with a package's own DLLs besides.
MODULES = ["C:\\py\\python.exe", "C:\\windows\\system32\\ntdll.dll",
           "C:\\py\\python313.dll", "C:\\py\\_ssl.pyd", "C:\\py\\libcrypto-3.dll",
           "C:\\py\\libssl-3.dll", "Z:\\tmp\\x\\libssl-3-x64.dll",
           "Z:\\tmp\\x\\LIBCRYPTO-1_1-X64.DLL", "Z:\\tmp\\x\\libcrypto-1_1.dll",
           "Z:\\tmp\\x\\libeay32.dll", "Z:\\tmp\\x\\ssleay32.dll",
           "Z:\\tmp\\x.libs\\libcrypto-3-x64-ab12cd34.dll", "Z:\\tmp\\x\\libcryptography.dll",
           "Z:\\tmp\\x\\_rust.cp313-win_amd64.pyd", "C:\\libssl-3\\python313.dll"]


def test_loaded_openssl_dlls_are_told_by_their_file_names():
    assert openssl_among(MODULES) == sorted([
        "C:\\py\\libcrypto-3.dll", "C:\\py\\libssl-3.dll", "Z:\\tmp\\x\\libssl-3-x64.dll",
        "Z:\\tmp\\x\\LIBCRYPTO-1_1-X64.DLL", "Z:\\tmp\\x\\libcrypto-1_1.dll",
        "Z:\\tmp\\x\\libeay32.dll", "Z:\\tmp\\x\\ssleay32.dll",
        "Z:\\tmp\\x.libs\\libcrypto-3-x64-ab12cd34.dll"])


def test_the_interpreters_own_dlls_are_not_foreign_whatever_their_case(monkeypatch):
    monkeypatch.setattr(loadwatch, "loaded_libraries", lambda: MODULES[:7])
    # The report runs inside python.exe, where paths compare without case.
    monkeypatch.setattr(loadwatch.os.path, "normcase", ntpath.normcase)
    monkeypatch.setitem(loadwatch.sys.modules, "_ssl", object())
    monkeypatch.setenv(loadwatch.INTERPRETER_ENV,
                       json.dumps(["C:\\PY\\LIBCRYPTO-3.DLL", "C:\\py\\libssl-3.dll"]))
    watch = LoadWatch.__new__(LoadWatch)  # no hooks installed in the test process
    watch.opened = []
    report = watch.report()
    assert report["mapped"] == ["C:\\py\\libcrypto-3.dll", "C:\\py\\libssl-3.dll",
                                "Z:\\tmp\\x\\libssl-3-x64.dll"]
    assert report["foreign"] == ["Z:\\tmp\\x\\libssl-3-x64.dll"]


def test_problems_name_every_load_and_every_foreign_mapping():
    report = {"opened": [["ctypes.dlopen", "libcrypto.so.3"]],
              "foreign": ["/opt/x/pkg.libs/libssl-ab12cd.so.3"]}
    assert problems(report) == ["ctypes.dlopen('libcrypto.so.3')",
                                "/opt/x/pkg.libs/libssl-ab12cd.so.3 is mapped"]
    assert problems({"opened": [], "mapped": ["/usr/lib/libcrypto.so.3"], "foreign": []}) == []


@pytest.mark.parametrize("name", [b"libcrypto.so.3", b"/usr/lib/libssl.so"])
def test_a_name_given_as_bytes_is_read_like_text(name):
    assert names_openssl(name)
