"""manylinux policies as auditwheel ships them: what each platform tag allows an ELF to need.
auditwheel's own data, so that the builder's checks and auditwheel cannot disagree."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from builder.architectures import ARCHITECTURES
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Policy:
    """A manylinux policy as auditwheel ships it: the symbol versions it allows per family."""

    name: str  # manylinux_2_17
    arch: str
    allowed: Dict[str, FrozenSet[str]]  # GLIBC -> {"2.2.5", ..., "2.17"}

    @property
    def glibc(self) -> str:
        """The glibc the policy is named for: 2.17 for manylinux_2_17 (whose aarch64 symbol
        list also allows a few GLIBC_2.18 symbols)."""
        major, minor = re.fullmatch(r"manylinux_(\d+)_(\d+)", self.name).groups()  # type: ignore[union-attr]
        return f"{major}.{minor}"

    def violations(self, name: str,
                   versions_needed: Sequence[Tuple[str, Sequence[str]]],
                   machine: Optional[str] = None) -> List[str]:
        """The newest disallowed version of each family an ELF needs, with its symbols; and
        a machine other than the policy's architecture."""
        known = ARCHITECTURES.get(self.arch)
        expected_machine = known.elf_machine if known else None
        if machine and expected_machine and machine != expected_machine:
            return [f"{name} is built for {machine}, not {self.arch} ({expected_machine})"]
        newest: Dict[str, Tuple[Tuple[int, ...], str, Sequence[str]]] = {}
        for version, users in versions_needed:
            family, _, number = version.partition("_")
            if family in self.allowed and number not in self.allowed[family]:
                key = tuple(int(n) for n in re.findall(r"\d+", number))
                if family not in newest or key > newest[family][0]:
                    newest[family] = (key, version, users)
        found = []
        for _, version, users in newest.values():
            who = ", ".join(users[:3]) + (", ..." if len(users) > 3 else "")
            found.append(f"{name} needs {version} ({who or 'no symbol named'}), "
                         f"newer than {self.name}_{self.arch} allows")
        return found


def policy_for(platform_tag: str) -> Optional[Policy]:
    """The auditwheel policy of a tag such as manylinux2014_x86_64 or manylinux_2_28_aarch64;
    None for a tag that is not manylinux (plain linux_*)."""
    for entry in _manylinux_policies():
        for name in [entry["name"], *entry.get("aliases", [])]:
            if name != "linux" and platform_tag.startswith(name + "_"):
                arch = platform_tag[len(name) + 1:]
                versions = entry["symbol_versions"].get(arch)
                if versions is None:
                    return None
                return Policy(entry["name"], arch,
                              {family: frozenset(v) for family, v in versions.items()})
    return None


def manylinux_tags(arch: str) -> List[str]:
    """Every manylinux platform tag auditwheel knows for `arch`, aliases included
    (manylinux2014_x86_64 beside manylinux_2_17_x86_64), oldest glibc first."""
    return [f"{name}_{arch}" for entry in _manylinux_policies()
            if entry["name"] != "linux" and arch in entry["symbol_versions"]
            for name in [entry["name"], *entry.get("aliases", [])]]


@lru_cache(maxsize=1)
def _manylinux_policies() -> List[dict]:
    # auditwheel's own policy data, so the two checks cannot disagree on what a tag allows.
    text = resources.files("auditwheel.policy").joinpath("manylinux-policy.json").read_text()
    return json.loads(text)
