"""Functional checks of a static cryptography wheel, run inside the smoke-test virtualenv.

usage: python cryptography_checks.py EXPECTED_OPENSSL_VERSION REPORT_JSON [--system-ssl-first]

Asserts (exits non-zero on the first failure) that the OpenSSL loaded at run time and the one
compiled against are both the pinned one, that the legacy provider is inside (Blowfish), and
that the common primitives round-trip. With --system-ssl-first the interpreter's own `ssl`
and `hashlib` (the system OpenSSL) are imported first and must keep working beside it.
"""

import datetime
import os
import re
import sys
import warnings

# Run isolated (-I), so its own folder, where the smoke test copied harness.py, is not on the
# path by itself; that folder holds only harness.py and loadwatch.py beside this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def _version(text):
    match = re.search(r"OpenSSL (\d+\.\d+\.\d+[a-z]?)", text)
    return match.group(1) if match else None


def check_versions(expected):
    """The OpenSSL cryptography runs with (backend) and the one its bindings were compiled
    against (OPENSSL_VERSION_TEXT) are both `expected`; returns both texts as {"runtime",
    "compiled"}. Raises AssertionError otherwise."""
    from cryptography.hazmat.backends.openssl import backend
    from cryptography.hazmat.bindings._rust import _openssl

    runtime = backend.openssl_version_text()
    # The header macro, frozen into the cffi module when it was compiled.
    compiled = _openssl.ffi.string(_openssl.lib.OPENSSL_VERSION_TEXT).decode()
    assert _version(runtime) == expected, f"run time: {runtime!r}, expected {expected}"
    assert _version(compiled) == expected, f"compiled against: {compiled!r}, expected {expected}"
    return {"runtime": runtime, "compiled": compiled}


def check_legacy_provider():
    """The legacy provider is loaded and Blowfish-CBC round-trips; raises AssertionError
    otherwise."""
    from cryptography.hazmat.bindings._rust import openssl as rust_openssl
    from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    assert getattr(rust_openssl, "_legacy_provider_loaded", True), "legacy provider not loaded"
    key, iv, data = b"k" * 16, b"i" * 8, b"legacy!!" * 4
    cipher = Cipher(Blowfish(key), modes.CBC(iv))
    encrypted = cipher.encryptor().update(data)
    assert cipher.decryptor().update(encrypted) == data


def check_symmetric():
    """Fernet, AES-GCM and ChaCha20-Poly1305 round-trip; raises AssertionError otherwise."""
    import os

    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

    token = Fernet(Fernet.generate_key())
    assert token.decrypt(token.encrypt(b"fernet")) == b"fernet"
    for aead in (AESGCM(AESGCM.generate_key(256)), ChaCha20Poly1305(os.urandom(32))):
        nonce = os.urandom(12)
        assert aead.decrypt(nonce, aead.encrypt(nonce, b"aead", b"ad"), b"ad") == b"aead"


def check_asymmetric():
    """Ed25519, ECDSA P-256 and RSA-PSS sign and verify, X25519 agrees and RSA-OAEP
    round-trips; raises AssertionError or cryptography's InvalidSignature otherwise."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519

    ed = ed25519.Ed25519PrivateKey.generate()
    ed.public_key().verify(ed.sign(b"ed25519"), b"ed25519")
    a, b = x25519.X25519PrivateKey.generate(), x25519.X25519PrivateKey.generate()
    assert a.exchange(b.public_key()) == b.exchange(a.public_key())
    ecdsa = ec.generate_private_key(ec.SECP256R1())
    ecdsa.public_key().verify(ecdsa.sign(b"ecdsa", ec.ECDSA(hashes.SHA256())), b"ecdsa",
                              ec.ECDSA(hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    key.public_key().verify(key.sign(b"rsa", pss, hashes.SHA256()), b"rsa", pss, hashes.SHA256())
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    assert key.decrypt(key.public_key().encrypt(b"rsa", oaep), oaep) == b"rsa"


def check_x509():
    """A self-signed P-256 certificate survives PEM and verifies as issued by itself; raises
    AssertionError or cryptography's InvalidSignature otherwise."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "static-wheel.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    loaded = x509.load_pem_x509_certificate(cert.public_bytes(serialization.Encoding.PEM))
    assert loaded == cert and loaded.subject == name
    loaded.verify_directly_issued_by(loaded)


def check_post_quantum(expected):
    """ML-KEM and ML-DSA where OpenSSL is 3.5 or newer and cryptography has them."""
    major, minor = (int(n) for n in expected.split(".")[:2])
    if (major, minor) < (3, 5):
        return "skipped: OpenSSL older than 3.5"
    try:
        from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem
    except ImportError:
        return "skipped: this cryptography has no ML-KEM/ML-DSA"
    kem_key = mlkem.MLKEM768PrivateKey.generate()
    shared, ciphertext = kem_key.public_key().encapsulate()
    assert kem_key.decapsulate(ciphertext) == shared
    dsa_key = mldsa.MLDSA65PrivateKey.generate()
    dsa_key.public_key().verify(dsa_key.sign(b"ml-dsa"), b"ml-dsa")
    return "passed"


def all_checks(expected):
    """Every check in order, with warnings turned into errors; returns the report ({"versions",
    "post_quantum"}). Raises on the first failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning (e.g. no legacy provider) is a failure
        report = {"versions": check_versions(expected)}
        check_legacy_provider()
        check_symmetric()
        check_asymmetric()
        check_x509()
        report["post_quantum"] = check_post_quantum(expected)
    return report


if __name__ == "__main__":
    harness.run(sys.argv[1:], all_checks)
