"""OpenSSL's release signatures: the upstream `.asc` checked with gpgv against the release
signing keys that ship with the builder (builder/data/keys), never against a key fetched at
build time."""

from __future__ import annotations

import base64
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import List

from builder.errors import InputError, VerificationError
from builder.runner import outcome

_ARMOR = re.compile(r"-----BEGIN PGP PUBLIC KEY BLOCK-----\n(.*?)-----END PGP PUBLIC KEY BLOCK-----",
                    re.S)  # the block's text: optional armor headers, a blank line, base64
_GPGV_ADVICE = "install gpgv (apt-get install gpgv / dnf install gnupg2)"


@dataclass(frozen=True)
class GoodSignature:
    """A signature gpgv accepted: the signing key's fingerprint, its user id, and whether the key
    has expired since."""

    fingerprint: str  # of the signing (sub)key
    signer: str  # the key's user id as gpgv names it
    key_expired: bool  # made by a key that has expired since: still valid for that release

    def record(self) -> dict:
        """The signature as the provenance record shows it: a JSON-ready dict."""
        return {"fingerprint": self.fingerprint, "signer": self.signer,
                "key_expired_since": self.key_expired}


def shipped_keys() -> List[Path]:
    """The armored release signing keys that ship with the builder (builder/data/keys/*.asc),
    sorted by path."""
    folder = resources.files("builder").joinpath("data/keys")
    return sorted(Path(str(folder)).glob("*.asc"))


def dearmor(text: str) -> bytes:
    """The binary OpenPGP packets of every armored public key block in `text`."""
    packets = b""
    for block in _ARMOR.findall(text.replace("\r\n", "\n")):
        lines = block.split("\n")
        body = lines[lines.index("") + 1:] if "" in lines else lines  # after armor headers
        lines = [line for line in body if line and not line.startswith("=")]
        packets += base64.b64decode("".join(lines))
    return packets


def require_gpgv() -> str:
    """The path of gpgv on PATH; raises InputError when it is not installed."""
    gpgv = shutil.which("gpgv")
    if gpgv is None:
        raise InputError(f"--verify-signature needs gpgv: {_GPGV_ADVICE}")
    return gpgv


def verify(tarball: Path, signature: Path) -> GoodSignature:
    """A good signature of `tarball` by one of OpenSSL's release keys (those shipped in
    builder/data/keys). Raises InputError when gpgv is missing or cannot run;
    VerificationError when `signature` is not a file or does not verify (`judge`)."""
    gpgv = require_gpgv()
    if not signature.is_file():
        raise VerificationError(f"no signature {signature.name} for {tarball.name}")
    with tempfile.TemporaryDirectory(prefix="builder-gpgv-") as scratch:
        keyring = Path(scratch) / "openssl-release-keys.gpg"
        keyring.write_bytes(b"".join(dearmor(k.read_text()) for k in shipped_keys()))
        done = outcome([gpgv, "--homedir", scratch, "--status-fd", "1", "--keyring",
                        keyring, signature, tarball])
    return judge(done.stdout, tarball.name, done.stderr)


def judge(status: str, name: str, stderr: str = "") -> GoodSignature:
    """Read gpgv's machine-readable status lines (`--status-fd`) into the good signature they
    report. Raises VerificationError without GOODSIG/EXPKEYSIG and VALIDSIG, or with REVKEYSIG,
    naming why (bad signature, unknown key, revoked key, else gpgv's last line of `stderr`)."""
    codes = {}
    for line in status.splitlines():
        if line.startswith("[GNUPG:] "):
            code, _, rest = line[len("[GNUPG:] "):].partition(" ")
            codes[code] = rest
    good = "GOODSIG" in codes or "EXPKEYSIG" in codes
    if not good or "VALIDSIG" not in codes or "REVKEYSIG" in codes:
        why = ("made by a revoked key" if "REVKEYSIG" in codes
               else "bad signature: the tarball is not what was signed" if "BADSIG" in codes
               else "signed by a key that is not one of OpenSSL's release keys"
               if "NO_PUBKEY" in codes or "ERRSIG" in codes
               else (stderr.strip().splitlines() or ["gpgv found no good signature"])[-1])
        raise VerificationError(f"{name}: signature does not verify against OpenSSL's release "
                                f"keys ({why})")
    keyid_and_user = codes.get("GOODSIG") or codes.get("EXPKEYSIG") or ""
    return GoodSignature(fingerprint=codes["VALIDSIG"].split()[0],
                         signer=keyid_and_user.partition(" ")[2],
                         key_expired="EXPKEYSIG" in codes)
