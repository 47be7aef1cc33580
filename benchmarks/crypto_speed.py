#!/usr/bin/env python3
"""Crypto throughput of a wheel built with zig for an old glibc against a native gcc build of
the same package and OpenSSL: AES-256-GCM, ChaCha20-Poly1305 and SHA-256, plus the sizes.

Run by hand (it builds two wheels; minutes, not seconds), from the project root:

    python benchmarks/crypto_speed.py -- --cargo-vendor ../shared/crates --cargo-relock \
        --openssl-source ../shared/openssl/openssl-3.0.22.tar.gz

Everything after `--` goes to both `builder wheel` commands. Target: the old-glibc wheel within
5% of the native one on every algorithm.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
import time
import zipfile
from pathlib import Path
from typing import Optional


from machine import machine  # benchmarks/machine.py, beside this script

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 0.95

# Runs inside each variant's virtualenv: best of several one-second runs, MB/s per algorithm.
MEASURE = r"""
import json, os, sys, time
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
size, rounds, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
data, nonce = os.urandom(size), os.urandom(12)
aes, chacha = AESGCM(AESGCM.generate_key(256)), ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
def sha256(buf):
    h = hashes.Hash(hashes.SHA256()); h.update(buf); h.finalize()
work = {"AES-256-GCM": lambda: aes.encrypt(nonce, data, None),
        "ChaCha20-Poly1305": lambda: chacha.encrypt(nonce, data, None),
        "SHA-256": lambda: sha256(data)}
result = {}
for name, step in work.items():
    best = 0.0
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step(); count += 1
        best = max(best, count * size / (time.perf_counter() - start) / 1e6)
    result[name] = round(best, 1)
print(json.dumps(result))
"""


def build(variant: str, args: argparse.Namespace, extra: list, out: Path) -> Path:
    wheelhouse = out / variant
    command = [sys.executable, "-m", "builder", "wheel", args.package, "--openssl", args.openssl,
               "--wheelhouse", str(wheelhouse), *extra]
    if variant != "native":
        command += ["--plat", args.plat]
    print(f"$ {' '.join(command)}", flush=True)
    subprocess.run(command, check=True)
    [wheel] = [w for w in wheelhouse.glob("*.whl") if w.name.startswith("cryptography-")]
    return wheel


def venv_with(wheel: Path, folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links",
                    str(wheel.parent), str(wheel)], check=True)
    return python


def official_size(package: str, built_name: str) -> Optional[dict]:
    """The size of the index's own wheel of the same version, abi and CPU (what users would
    otherwise install), from the simple index's JSON form (PEP 691, sizes per PEP 700)."""
    name, _, version = package.partition("==")
    python_tag, abi = built_name.split("-")[2:4]
    request = urllib.request.Request(f"https://pypi.org/simple/{name}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            files = json.load(answer)["files"]
    except OSError:
        return None
    platform_tag = built_name[:-len(".whl")].split("-")[-1].split(".")[-1]
    arch = re.search(r"(x86_64|aarch64|i686|ppc64le|s390x|armv7l)$", platform_tag)
    candidates = []
    for entry in files:
        parts = entry["filename"][:-len(".whl")].split("-")
        if len(parts) >= 5 and parts[1] == version and parts[2:4] == [python_tag, abi] \
                and "manylinux" in parts[4] and arch and parts[4].endswith(arch.group(1)):
            # The same manylinux tag first, else the index's wheel for that CPU.
            candidates.append((platform_tag not in parts[4].split("."), entry))
    if not candidates:
        return None
    entry = sorted(candidates, key=lambda c: c[0])[0][1]
    return {"name": entry["filename"], "size": entry.get("size")}


def largest_extension_size(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as archive:
        return max(i.file_size for i in archive.infolist() if ".so" in i.filename)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", default="cryptography==50.0.2")
    parser.add_argument("--openssl", default="3.0.22")
    parser.add_argument("--plat", default="manylinux2014_x86_64",
                        help="the old-glibc tag built with zig")
    parser.add_argument("--size", type=int, default=16384, help="bytes per operation")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="per round")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "crypto_speed.json")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    with tempfile.TemporaryDirectory(prefix="crypto-speed-") as scratch:
        out = Path(scratch)
        wheels = {variant: build(variant, args, extra, out) for variant in ("native", "zig")}
        pythons = {v: venv_with(w, out / f"venv-{v}") for v, w in wheels.items()}
        speeds = {v: {} for v in wheels}
        # Alternate the variants so that a slow moment of the machine hits both alike.
        for _ in range(2):
            for variant, python in pythons.items():
                done = subprocess.run([str(python), "-c", MEASURE, str(args.size),
                                       str(args.rounds), str(args.seconds)],
                                      check=True, capture_output=True, text=True)
                for name, value in json.loads(done.stdout).items():
                    speeds[variant][name] = max(value, speeds[variant].get(name, 0.0))
        sizes = {v: {"wheel": w.stat().st_size, "extension": largest_extension_size(w),
                     "name": w.name} for v, w in wheels.items()}
    rows = []
    print(f"\n{'algorithm':<20}{'native MB/s':>13}{'zig MB/s':>11}{'zig/native':>12}")
    for name in speeds["native"]:
        ratio = speeds["zig"][name] / speeds["native"][name]
        rows.append({"algorithm": name, "native_mb_s": speeds["native"][name],
                     "zig_mb_s": speeds["zig"][name], "ratio": round(ratio, 3),
                     "within_target": ratio >= TARGET_RATIO})
        print(f"{name:<20}{speeds['native'][name]:>13.1f}{speeds['zig'][name]:>11.1f}"
              f"{ratio:>11.3f}{'' if ratio >= TARGET_RATIO else '  (below 0.95)'}")
    for variant, size in sizes.items():
        print(f"{variant:<7} {size['name']}: wheel {size['wheel']:,} B, "
              f"extension {size['extension']:,} B")
    official = official_size(args.package, wheels["native"].name)
    if official is not None:
        print(f"the index's own {official['name']}: {official['size']:,} B")
        sizes["official"] = official
    report = {"machine": machine(),
              "package": args.package, "openssl": args.openssl, "plat": args.plat,
              "bytes_per_operation": args.size, "measured_at": time.strftime("%Y-%m-%d"),
              "throughput": rows, "sizes": sizes}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {args.json}")
    return 0 if all(r["within_target"] for r in rows) else 1



if __name__ == "__main__":
    sys.exit(main())
