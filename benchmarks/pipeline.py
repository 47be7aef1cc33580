#!/usr/bin/env python3
"""How lean the pipeline is, in CPU-seconds and wall seconds, on this machine, in one run:

- naive: the hand recipe users copy from cryptography's old docs (./config no-shared no-ssl2
  no-ssl3 -fPIC; make; make install; pip wheel --no-binary :all:) on the same tarball;
- floor: compiling only OpenSSL's library objects (the builder's Configure flags,
  make -jN build_libs), and the extension's own compile (the naive recipe's pip wheel step);
- cold: `builder wheel scrypt --openssl 3.0.22` with an empty cache;
- warm: the same command again, the OpenSSL build cached, with uv and with pip as the
  installer of the build's and the smoke test's environments;
- N interpreters: 1, 2 and 4 Pythons in one command (cache warm);
- fresh machine, warm registry: an empty cache pulling the OpenSSL build from a registry
  (docker-registry on loopback) that the cold run pushed to;
- cryptography with a warm sccache, against the same build without sccache (both with
  OpenSSL cached), when --cryptography-vendor names the crates to build it offline.

Run by hand from the project root (about 20 minutes on 2 cores, 30 with cryptography;
nothing else should run):

    .venv/bin/python benchmarks/pipeline.py --tarball ../shared/openssl/openssl-3.0.22.tar.gz \
        --cryptography-vendor ../shared/crates/cryptography-50.0.2/vendor

It prints a table of the figures and their ratios against the targets and writes it as JSON
(benchmarks/results/pipeline.json).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from machine import machine  # benchmarks/machine.py, beside this script

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECIPE = ROOT / "scripts" / "build_openssl.sh"


@dataclass
class Cost:
    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.wall + other.wall, self.cpu + other.cpu)

    def __sub__(self, other: "Cost") -> "Cost":
        return Cost(self.wall - other.wall, self.cpu - other.cpu)


def measured(command: List[str], **kwargs) -> Cost:
    """Wall time and the CPU time (user + system) of the command and all its children (an
    sccache server's compiles are not its children: its CPU time is not counted)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Cost(round(wall, 1), round(cpu, 1))


def say(label: str, cost: Cost) -> Cost:
    print(f"  {label:<34} {cost.wall:>8.1f} s wall {cost.cpu:>8.1f} CPU-s", flush=True)
    return cost


def unpack(tarball: Path, into: Path) -> Path:
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(into)], check=True)
    return next(into.glob("openssl-*"))


def naive(tarball: Path, package: str, scratch: Path) -> Dict[str, Cost]:
    source = unpack(tarball, scratch)
    prefix = scratch / "naive-prefix"
    configure = measured(["./config", "no-shared", "no-ssl2", "no-ssl3", "-fPIC",
                          f"--prefix={prefix}", "--libdir=lib"], cwd=source)
    make = measured(["make"], cwd=source)
    install = measured(["make", "install"], cwd=source)
    venv = scratch / "naive-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "CFLAGS": f"-I{prefix}/include", "LDFLAGS": f"-L{prefix}/lib"}
    wheel = measured([str(venv / "bin" / "pip"), "wheel", "-q", "--no-binary", ":all:",
                      "--no-deps", "--no-cache-dir", "-w", str(scratch / "naive-wheels"),
                      package], env=env)
    return {"openssl": say("naive: OpenSSL (config, make, install)", configure + make + install),
            "extension": say("naive: pip wheel --no-binary :all:", wheel)}


def floor(tarball: Path, jobs: int, scratch: Path) -> Cost:
    (scratch / "floor").mkdir()
    source = unpack(tarball, scratch / "floor")
    flags = subprocess.run(["bash", str(RECIPE), "--print-flags", "--tarball", str(tarball),
                            "--workdir", str(scratch / "flags"), tarball.name[8:-7],
                            str(scratch / "floor-prefix")],
                           check=True, capture_output=True, text=True).stdout.split()
    configure = measured(["perl", "./Configure", *flags], cwd=source)
    build = measured(["make", f"-j{jobs}", "build_libs"], cwd=source)
    return say("floor: library objects only", configure + build)


def builder(args: List[str], cache: Path, wheelhouse: Path,
            env: Optional[Dict[str, str]] = None, log: Path = Path(os.devnull)) -> Cost:
    shutil.rmtree(wheelhouse, ignore_errors=True)
    with open(log, "w") as err:
        return measured([sys.executable, "-m", "builder", "wheel", *args, "--cache-dir",
                         str(cache), "--wheelhouse", str(wheelhouse)],
                        env={**os.environ, "CI": "true", **(env or {})}, stderr=err)


def openssl_step(log: Path) -> float:
    """The seconds the run's log gives its OpenSSL build step (fetched, pulled or built)."""
    found = re.search(r"static build: done in (?:(\d+)m)?([\d.]+)s", log.read_text())
    if found is None:
        raise SystemExit(f"no OpenSSL step in {log}")
    return int(found.group(1) or 0) * 60 + float(found.group(2))


def warm_registry(common: List[str], cache: Path, scratch: Path) -> Dict[str, float]:
    """Push the cold run's OpenSSL build to a registry on loopback, then build with an empty
    cache pulling it: that run's cost, and its OpenSSL step's seconds."""
    sys.path.insert(0, str(ROOT))
    from tests.servers import registry

    with registry(scratch / "registry") as address:
        location = f"{address}/builder-cache"
        subprocess.run([sys.executable, "-m", "builder", "openssl", "build",
                        common[common.index("--openssl") + 1], "--openssl-source",
                        common[common.index("--openssl-source") + 1], "--remote-cache",
                        location, "--remote-cache-push", "--cache-dir", str(cache)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log = scratch / "fresh.log"
        cost = say("builder, fresh cache + warm registry",
                   builder([*common, "--remote-cache", location], scratch / "fresh-cache",
                           scratch / "fresh-wheelhouse", log=log))
    return {"cost": cost, "openssl_step": openssl_step(log)}


def cryptography_with_sccache(vendor: Path, version: str, tarball: Path, cache: Path,
                              scratch: Path) -> dict:
    """cryptography (its Rust crates from `vendor`, offline) with OpenSSL cached: without
    sccache, then with it twice (the first fills a local disk cache), the last measured.
    Returns the two costs, and under "detail" each measured run's stage times (from its log)
    and sccache's counts (from its wheel's record)."""
    # The crates beside the vendor directory need their patch and a fresh lock (its README).
    common = ["cryptography==50.0.2", "--openssl", version, "--openssl-source", str(tarball),
              "--cargo-vendor", str(vendor), "--cargo-relock",
              "--patch", str(vendor.parent / "cargo-toml-debian-crates.patch")]
    sccache = {"SCCACHE_DIR": str(scratch / "sccache")}
    without = say("cryptography, OpenSSL cached",
                  builder(common, cache, scratch / "c1", log=scratch / "c1.log"))
    builder([*common, "--sccache"], cache, scratch / "c2", env=sccache)
    warm = say("cryptography, warm sccache",
               builder([*common, "--sccache"], cache, scratch / "c3", env=sccache,
                       log=scratch / "c3.log"))
    detail = {name: {"stages": stage_seconds(scratch / f"{run}.log"),
                     "sccache": sccache_counts(scratch / run)}
              for name, run in (("without", "c1"), ("warm_sccache", "c3"))}
    for name, facts in detail.items():
        print(f"    {name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in facts["stages"].items())
              + (f"; sccache {facts['sccache']}" if facts["sccache"] else ""))
    return {"without": without, "warm_sccache": warm, "detail": detail}


def stage_seconds(log: Path) -> Dict[str, float]:
    """Each stage a run's log reports (`[ 1m31s]     NAME: done in 1m29s`, the elapsed time
    first where the output is not a terminal), in seconds."""
    found = re.findall(r"^(?:\[[^]]*\])?\s+(.+): done in (?:(\d+)m)?([\d.]+)s$",
                       log.read_text(), re.M)
    return {name: int(minutes or 0) * 60 + float(seconds) for name, minutes, seconds in found}


def sccache_counts(wheelhouse: Path) -> Optional[Dict[str, int]]:
    """What sccache counted for the run (its wheel's record), or None without sccache."""
    [record] = wheelhouse.glob("*.provenance.json")
    return json.loads(record.read_text()).get("sccache")


def pythons(count: int) -> List[str]:
    sys.path.insert(0, str(ROOT))
    from builder.interpreters import discover

    found = [str(i.executable) for i in discover() if i.version >= (3, 9)]
    if len(found) < count:
        raise SystemExit(f"needs {count} CPythons 3.9+ on this machine, found {len(found)}")
    return found[-count:]


def ratio(part: float, whole: float) -> float:
    return round(part / whole, 3) if whole else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", type=Path, required=True, help="openssl-3.0.22.tar.gz")
    parser.add_argument("--package", default="scrypt==0.9.4")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cryptography-vendor", type=Path,
                        help="cargo vendor directory of cryptography 50.0.2: adds its rows")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "pipeline.json")
    args = parser.parse_args()
    version = args.tarball.name[len("openssl-"):-len(".tar.gz")]
    common = [args.package, "--openssl", version, "--openssl-source", str(args.tarball.resolve()),
              "--jobs", str(args.jobs)]
    with tempfile.TemporaryDirectory(prefix="builder-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        cache, wheelhouse = scratch / "cache", scratch / "wheelhouse"
        print(f"OpenSSL {version}, {args.package}, {os.cpu_count()} cores:")
        naive_costs = naive(args.tarball.resolve(), args.package, scratch)
        floor_cost = floor(args.tarball.resolve(), args.jobs, scratch)
        cold = say("builder, cold (empty cache)", builder(common, cache, wheelhouse))
        warm = say("builder, warm (OpenSSL cached)", builder(common, cache, wheelhouse))
        warm_uv = say("builder, warm, uv", builder([*common, "--installer", "uv"], cache,
                                                   wheelhouse))
        warm_pip = say("builder, warm, pip", builder([*common, "--installer", "pip"], cache,
                                                     wheelhouse))
        fresh = warm_registry(common, cache, scratch)
        rust = (cryptography_with_sccache(args.cryptography_vendor.resolve(), version,
                                          args.tarball.resolve(), cache, scratch)
                if args.cryptography_vendor else None)
        by_count: Dict[int, Cost] = {}
        for count in (1, 2, 4):
            chosen = [a for p in pythons(count) for a in ("--python", p)]
            by_count[count] = say(f"builder, {count} interpreter(s), warm",
                                  builder([*common, *chosen], cache, wheelhouse))
    naive_total = naive_costs["openssl"] + naive_costs["extension"]
    lean = floor_cost + naive_costs["extension"]
    overhead = cold - lean
    per_extra = Cost((by_count[4].wall - by_count[1].wall) / 3,
                     (by_count[4].cpu - by_count[1].cpu) / 3)
    checks = [
        ("cold CPU / naive CPU", ratio(cold.cpu, naive_total.cpu), 0.45),
        ("cold wall / naive wall", ratio(cold.wall, naive_total.wall), 0.25),
        ("overhead CPU / (floor + extension) CPU", ratio(overhead.cpu, lean.cpu), 0.15),
        ("warm wall / cold wall", ratio(warm.wall, cold.wall), 0.10),
        ("warm wall with uv / cold wall", ratio(warm_uv.wall, cold.wall), 0.08),
        # pip is the fallback: measured beside uv, no target of its own.
        ("warm wall with pip / cold wall", ratio(warm_pip.wall, cold.wall), None),
        ("each extra interpreter, wall / cold wall", ratio(per_extra.wall, cold.wall), 0.15),
        ("fresh cache + warm registry / cold, wall", ratio(fresh["cost"].wall, cold.wall), 0.15),
        ("its OpenSSL step, seconds", fresh["openssl_step"], 5.0),
    ]
    if rust is not None:
        checks.append(("cryptography, warm sccache / without, wall",
                       ratio(rust["warm_sccache"].wall, rust["without"].wall), 0.35))
    print(f"\n{'ratio':<44}{'measured':>10}{'target':>9}")
    for name, value, target in checks:
        if target is None:
            print(f"{name:<44}{value:>10.3f}{'-':>9}")
            continue
        verdict = "ok" if value <= target else "MISSED"
        print(f"{name:<44}{value:>10.3f}{'<= ' + str(target):>9}  {verdict}")
    report = {
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%d"), "openssl": version, "package": args.package,
        "seconds": {
            "naive_openssl": vars(naive_costs["openssl"]),
            "naive_extension": vars(naive_costs["extension"]),
            "floor_openssl_objects": vars(floor_cost), "cold": vars(cold), "warm": vars(warm),
            **{f"warm_{n}_interpreters": vars(c) for n, c in by_count.items()},
            "warm_uv": vars(warm_uv), "warm_pip": vars(warm_pip),
            "fresh_cache_warm_registry": vars(fresh["cost"]),
            **({f"cryptography_{k}": vars(rust[k]) for k in ("without", "warm_sccache")}
               if rust else {}),
        },
        **({"cryptography_detail": rust["detail"]} if rust else {}),
        "not_run": [] if rust else ["cryptography with sccache (no --cryptography-vendor)"],
        "ratios": [{"name": n, "measured": v, "target": t,
                    "met": None if t is None else v <= t} for n, v, t in checks],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {args.json}")
    return 0



if __name__ == "__main__":
    sys.exit(main())
