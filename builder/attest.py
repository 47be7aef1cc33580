"""Each wheel's provenance in the ecosystem's form: an in-toto Statement (in-toto-attestation's
own classes) with a SLSA v1 provenance predicate, in a DSSE envelope (securesystemslib's),
signed when the team gives a key, written beside the wheel as `<wheel>.intoto.jsonl`; and its
offline check against the team's public key. Sigstore (PEP 740) needs an identity provider
this host cannot reach: it is the public index's path, not this one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import List, Optional

from cryptography.hazmat.primitives.serialization import (load_pem_private_key,
                                                          load_pem_public_key)
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError as DsseVerificationError
from securesystemslib.signer import CryptoSigner, Signer, SSlibKey

from builder import __version__
from builder.errors import CheckFailed, InputError
from builder.fetch import sha256_file

SUFFIX = ".intoto.jsonl"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
# What kind of build this is, and who ran it: names of this tool (it has no web address).
BUILD_TYPE = "urn:builder:static-wheel:v1"
BUILDER_ID = "urn:builder:cli"


def attestation_path(wheel: Path) -> Path:
    """Where the wheel's attestation goes: beside it, `<wheel name>.intoto.jsonl`."""
    return wheel.with_name(wheel.name + SUFFIX)


def load_signer(path: Path) -> Signer:
    """A signer from a PEM private key (Ed25519, ECDSA or RSA, unencrypted). Raises InputError
    for a file that is missing or holds no such key."""
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
        return CryptoSigner(key)  # type: ignore[arg-type]
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"--sign-key {path} is not an unencrypted PEM private key (Ed25519, "
                         f"ECDSA or RSA): {exc}") from exc


def load_public_key(path: Path) -> SSlibKey:
    """The public key of a PEM file. Raises InputError for a file that holds none."""
    try:
        return SSlibKey.from_crypto(load_pem_public_key(path.read_bytes()))  # type: ignore
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"--verify-key {path} is not a PEM public key: {exc}") from exc


def statement(wheel: Path, record: dict, started: str, finished: str) -> dict:
    """The in-toto Statement (JSON-ready) of a published wheel: its sha256 as the subject, and
    a SLSA v1 provenance predicate of its provenance `record`: the build definition
    (package, version, OpenSSL release, platform tag, Configure arguments), the resolved
    dependencies (sdist, OpenSSL tarball, patches, zig's wheel, Cargo.lock's crates, each
    with its sha256) and the run (builder version, `started` and `finished`, RFC 3339
    times)."""
    openssl = record["openssl"]
    definition = provenance_pb2.BuildDefinition(build_type=BUILD_TYPE)
    definition.external_parameters.update({
        "package": record["package"], "version": record["version"],
        "openssl": openssl["version"], "platform_tag": record["tag"],
        "plat": record.get("plat") or "", "python": record["python"],
        "configure_args": list(openssl["configure_args"])})
    definition.internal_parameters.update({"compiler": record["compiler"],
                                           "openssl_cache_key": openssl["cache_key"]})
    sdist = record["sdist"]
    dependencies: List[ResourceDescriptor] = [
        ResourceDescriptor(name="sdist", uri=str(sdist["source"]),
                           digest={"sha256": sdist["sha256"]}),
        ResourceDescriptor(name=f"openssl-{openssl['version']}.tar.gz",
                           uri=str(openssl["source"]),
                           digest={"sha256": openssl["tarball_sha256"]}),
        *(ResourceDescriptor(name=f"patch {p['file']}", digest={"sha256": p["sha256"]})
          for p in sdist.get("patches", [])),
        *(ResourceDescriptor(name=d["file"], digest={"sha256": d["sha256"]})
          for d in record.get("toolchain_downloads", [])),
        *(ResourceDescriptor(name=f"crate {c['name']} {c['version']}",
                             uri=f"pkg:cargo/{c['name']}@{c['version']}",
                             digest={"sha256": c["sha256"]})
          for c in sdist.get("crates", [])),
    ]
    definition.resolved_dependencies.extend(d.pb for d in dependencies)
    run = provenance_pb2.RunDetails()
    run.builder.id = BUILDER_ID
    run.builder.version["builder"] = __version__
    run.metadata.started_on.CopyFrom(_timestamp(started))
    run.metadata.finished_on.CopyFrom(_timestamp(finished))
    predicate = provenance_pb2.Provenance(build_definition=definition, run_details=run)
    subject = ResourceDescriptor(name=wheel.name, digest={"sha256": sha256_file(wheel)})
    made = Statement([subject.pb], SLSA_PROVENANCE, json_format.MessageToDict(predicate))
    made.validate()
    return json_format.MessageToDict(made.pb)


def _timestamp(text: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp


def write_attestation(wheel: Path, made: dict, signer: Optional[Signer]) -> Path:
    """Write the Statement in a DSSE envelope beside the wheel, signed by `signer` (unsigned,
    with no signatures, without one); returns its path."""
    envelope = Envelope(json.dumps(made, sort_keys=True).encode(), PAYLOAD_TYPE, {})
    if signer is not None:
        envelope.sign(signer)
    path = attestation_path(wheel)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_bytes((json.dumps(envelope.to_dict(), sort_keys=True) + "\n").encode())
    os.replace(temp, path)  # a reader sees the old envelope or the new one, never half
    return path


def verify_attestation(wheel: Path, key: SSlibKey) -> str:
    """Check the wheel's attestation offline: its envelope signed by `key` and its subject the
    wheel's sha256. Returns a sentence saying what held; raises CheckFailed saying what did
    not (no attestation, unsigned, signed by another key, a wheel changed since)."""
    path = attestation_path(wheel)
    if not path.is_file():
        raise CheckFailed(f"{wheel.name} has no attestation beside it ({path.name})")
    try:
        envelope = Envelope.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckFailed(f"{path.name} is not a DSSE envelope ({exc})") from exc
    if not envelope.signatures:
        raise CheckFailed(f"{wheel.name}'s provenance is unsigned: build it with --sign-key")
    try:
        envelope.verify([key], 1)
    except DsseVerificationError as exc:
        raise CheckFailed(f"{wheel.name}'s provenance is not signed by key {key.keyid[:16]} "
                          f"({exc})") from exc
    made = json.loads(envelope.payload)
    digests = [s.get("digest", {}).get("sha256") for s in made.get("subject", [])]
    if sha256_file(wheel) not in digests:
        raise CheckFailed(f"{wheel.name} changed since its provenance was signed (its sha256 "
                          f"is not the statement's subject)")
    return f"provenance signed by key {key.keyid[:16]}, subject sha256 matches"
