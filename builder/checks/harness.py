"""What every functional-checks script shares; copied beside it into the smoke test's folder.

usage of a checks script: python <name>_checks.py EXPECTED_OPENSSL_VERSION REPORT_JSON
                          [--system-ssl-first]
"""

import json
import os
import sys

# Copied beside this file by the smoke test; the checks scripts put this folder on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadwatch  # noqa: E402

# Watching from the checks script's first import of this module, before the package's.
WATCH = loadwatch.LoadWatch()


def check_system_ssl():
    """Use the interpreter's own hashlib and ssl (a SHA-256, a default TLS context); return
    ssl.OPENSSL_VERSION. Raises AssertionError when the digest is wrong."""
    import hashlib
    import ssl

    assert hashlib.sha256(b"abc").hexdigest().startswith("ba7816bf")
    ssl.create_default_context()
    return ssl.OPENSSL_VERSION


def run(argv, checks):
    """Run `checks(expected) -> report`; with --system-ssl-first, the interpreter's own ssl
    and hashlib (the system OpenSSL) are used before and must keep working after."""
    expected, report_path = argv[0], argv[1]
    system_first = "--system-ssl-first" in argv
    before = check_system_ssl() if system_first else None
    report = checks(expected)
    report["loads"] = WATCH.report()
    if system_first:
        assert check_system_ssl() == before, "the system ssl changed beside the wheel"
        report.update(system_ssl_before=before, system_ssl_after="works")
    print(json.dumps(report))
    with open(report_path, "w") as out:
        json.dump(report, out)
