"""The smoke test's watch over shared OpenSSL loads: which names and mappings count."""

import pytest

from builder.loadwatch import mapped_openssl, names_openssl, problems


@pytest.mark.parametrize("name", ["libcrypto.so.3", "libssl.so", "crypto", "ssl",
                                  "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
                                  "libcrypto-3-x64.dll", "libssl-1_1.dll", "libeay32.dll",
                                  "ssleay32", "libcrypto.3.dylib", "LIBCRYPTO.SO.1.1"])
def test_names_of_a_shared_openssl(name):
    assert names_openssl(name)


@pytest.mark.parametrize("name", [None, "", "libc.so.6", "libcryptsetup.so.12", "libz.so.1",
                                  "/usr/lib/libsslcommon.so", "libpython3.11.so"])
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


def test_mapped_openssl_lists_each_library_once():
    assert mapped_openssl(MAPS) == ["/opt/x/site-packages/pkg.libs/libssl-ab12cd.so.3",
                                    "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"]


def test_problems_name_every_load_and_every_foreign_mapping():
    report = {"opened": [["ctypes.dlopen", "libcrypto.so.3"]],
              "foreign": ["/opt/x/pkg.libs/libssl-ab12cd.so.3"]}
    assert problems(report) == ["ctypes.dlopen('libcrypto.so.3')",
                                "/opt/x/pkg.libs/libssl-ab12cd.so.3 is mapped"]
    assert problems({"opened": [], "mapped": ["/usr/lib/libcrypto.so.3"], "foreign": []}) == []


@pytest.mark.parametrize("name", [b"libcrypto.so.3", b"/usr/lib/libssl.so"])
def test_a_name_given_as_bytes_is_read_like_text(name):
    assert names_openssl(name)
