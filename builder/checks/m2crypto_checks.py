"""Functional checks of a static M2Crypto wheel, run inside the smoke-test virtualenv.

usage: python m2crypto_checks.py EXPECTED_OPENSSL_VERSION REPORT_JSON [--system-ssl-first]

M2Crypto names only the header's version text (m2.OPENSSL_VERSION_TEXT); the version text
linked into its extension is checked by the import probe. Here: that header text is the
pinned version, a digest and an HMAC come out right, an RSA key signs and verifies, and a TLS
context is made. With --system-ssl-first the interpreter's own `ssl` and `hashlib` (the
system OpenSSL) are imported first and must keep working beside it.
"""

import hashlib
import hmac
import os
import re
import sys

# Run isolated (-I), so its own folder, where the smoke test copied harness.py, is not on the
# path by itself; that folder holds only harness.py and loadwatch.py beside this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def check_version(expected):
    """Return M2Crypto's header version text (m2.OPENSSL_VERSION_TEXT); raises AssertionError
    unless it names the `expected` release."""
    from M2Crypto import m2

    text = m2.OPENSSL_VERSION_TEXT
    text = text.decode() if isinstance(text, bytes) else text
    match = re.search(r"OpenSSL (\d+\.\d+\.\d+[a-z]?)", text)
    assert match and match.group(1) == expected, f"compiled against {text!r}, expected {expected}"
    return text


def check_digests():
    """SHA-256 and HMAC-SHA256 through M2Crypto's EVP agree with hashlib's and hmac's; raises
    AssertionError when they differ."""
    from M2Crypto import EVP

    digest = EVP.MessageDigest("sha256")
    digest.update(b"abc")
    assert digest.final() == hashlib.sha256(b"abc").digest(), "SHA-256 differs"
    mac = EVP.HMAC(b"key", "sha256")
    mac.update(b"message")
    assert mac.final() == hmac.new(b"key", b"message", "sha256").digest(), "HMAC differs"


def check_rsa():
    """A fresh 2048-bit RSA key signs a SHA-256 digest and verifies it; raises AssertionError
    when it does not verify."""
    from M2Crypto import RSA

    key = RSA.gen_key(2048, 65537, callback=lambda *args: None)
    signature = key.sign(hashlib.sha256(b"data").digest(), "sha256")
    assert key.verify(hashlib.sha256(b"data").digest(), signature, "sha256"), "RSA verify"


def check_tls_context():
    """A TLS context takes the HIGH:!aNULL cipher list and makes a connection object; raises
    AssertionError when no cipher suite is set."""
    from M2Crypto import SSL

    context = SSL.Context("tls")
    assert context.set_cipher_list("HIGH:!aNULL") == 1, "no TLS cipher suite"
    connection = SSL.Connection(context)
    connection.close()


def all_checks(expected):
    """Every check in order; returns the report {"compiled": header version text}. Raises
    AssertionError (or M2Crypto's error) on the first failure."""
    report = {"compiled": check_version(expected)}
    check_digests()
    check_rsa()
    check_tls_context()
    return report


if __name__ == "__main__":
    harness.run(sys.argv[1:], all_checks)
