"""Functional checks of a static scrypt wheel, run inside the smoke-test virtualenv.

usage: python scrypt_checks.py EXPECTED_OPENSSL_VERSION REPORT_JSON [--system-ssl-first]

scrypt has no API that names its OpenSSL: the version text linked into its extension is the
proof of which one it carries. Here: the key derivation gives RFC 7914's test vector, and a
message encrypted in scrypt's file format (AES-256-CTR from the linked OpenSSL, HMAC-SHA256)
decrypts to itself and refuses a wrong password. With --system-ssl-first the interpreter's own
`ssl` and `hashlib` (the system OpenSSL) are imported first and must keep working beside it.
"""

import os
import sys

# Run isolated (-I), so its own folder, where the smoke test copied harness.py, is not on the
# path by itself; that folder holds only harness.py and loadwatch.py beside this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# RFC 7914, section 12: scrypt(P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64).
RFC7914_KEY = bytes.fromhex(
    "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
    "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")


def check_key_derivation():
    """scrypt.hash gives RFC 7914's vector; raises AssertionError when it differs."""
    import scrypt

    key = scrypt.hash(b"password", b"NaCl", N=1024, r=8, p=16, buflen=64)
    assert key == RFC7914_KEY, f"scrypt.hash gave {key.hex()}"


def check_encryption():
    """A message encrypted with a password decrypts to itself, and a wrong password is
    refused with scrypt.error; raises AssertionError otherwise."""
    import scrypt

    sealed = scrypt.encrypt(b"static wheel", "secret", maxtime=0.05)
    assert sealed.startswith(b"scrypt"), "not scrypt's file format"
    assert scrypt.decrypt(sealed, "secret", maxtime=5.0, encoding=None) == b"static wheel"
    try:
        scrypt.decrypt(sealed, "wrong", maxtime=5.0, encoding=None)
    except scrypt.error:
        pass
    else:
        raise AssertionError("a wrong password decrypted the message")


def all_checks(expected):
    """Every check in order; returns the report (empty: scrypt names no OpenSSL). Raises
    AssertionError on the first failure."""
    check_key_derivation()
    check_encryption()
    return {"passed": ["RFC 7914 key derivation", "encrypt and decrypt, a wrong password refused"]}


if __name__ == "__main__":
    harness.run(sys.argv[1:], all_checks)
