"""The one way the builder runs a subprocess: logged, streamed to a file, typed on failure."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Sequence, Union

from builder.errors import DISK_FULL_ADVICE, CommandFailed, InputError, mentions_full_disk

TAIL_LINES = 25
StrPath = Union[str, Path]


def call(
    args: Sequence[StrPath],
    *,
    log: Path,
    what: str,
    cwd: Optional[StrPath] = None,
    env: Optional[Mapping[str, str]] = None,
    on_line: Optional[Callable[[str], None]] = None,
    on_start: Optional[Callable[[int], None]] = None,
) -> List[str]:
    """Run `args`, appending the command and all of its output to `log`; return the last
    lines of output.

    `what` names the step for the error message ("building OpenSSL 3.0.22").
    `on_line` sees every output line as it arrives (for stage markers); `on_start` gets
    the process id, which is also its process group's (each command runs in its own session).
    """
    argv = [str(a) for a in args]
    log.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with open(log, "a", encoding="utf-8", errors="replace") as out:
        out.write(f"$ {shlex.join(argv)}\n")
        if cwd is not None:
            out.write(f"  (in {cwd})\n")
        out.flush()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise InputError(f"{argv[0]} is not installed or not on PATH ({what})") from exc
        except OSError as exc:  # not executable, not a program, a directory
            raise InputError(f"{argv[0]} cannot be run ({exc.strerror}; {what})") from exc
        try:
            if on_start is not None:
                on_start(proc.pid)
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                tail.append(line.rstrip("\n"))
                if on_line is not None:
                    on_line(line.rstrip("\n"))
            returncode = proc.wait()
        except BaseException:
            _stop(proc)
            raise
        out.write(f"[exit {returncode}]\n")
    if returncode != 0:
        full = f"; {DISK_FULL_ADVICE}" if mentions_full_disk(tail) else ""
        raise CommandFailed(f"{what} failed ({_how_it_ended(returncode)} from "
                            f"{Path(argv[0]).name}){full}", log=log, tail=tail)
    return list(tail)


def _how_it_ended(returncode: int) -> str:
    """`exit 1`, or `killed by SIGSEGV` for a process a signal ended (a crash)."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit {returncode}"


def capture(args: Sequence[StrPath], *, env: Optional[Mapping[str, str]] = None) -> str:
    """Run a short query command (a version probe) and return its stdout.

    For commands whose output is the answer, not a step worth a log file.
    """
    argv = [str(a) for a in args]
    try:
        done = subprocess.run(
            argv, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, errors="replace", check=False,
        )
    except FileNotFoundError as exc:
        raise InputError(f"{argv[0]} is not installed or not on PATH") from exc
    except OSError as exc:  # not executable, not a program, a directory
        raise InputError(f"{argv[0]} cannot be run ({exc.strerror})") from exc
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()[-TAIL_LINES:]
        raise CommandFailed(f"{shlex.join(argv)} failed (exit {done.returncode})", tail=lines)
    return done.stdout


@dataclass(frozen=True)
class Outcome:
    """How a command whose exit status is part of the answer ended (gpgv, a linker)."""

    returncode: int
    stdout: str
    stderr: str


def outcome(args: Sequence[StrPath], *, stderr: bool = True) -> Outcome:
    """Run `args` with no input and return its exit status and output, whatever the status;
    with `stderr` False the command's standard error goes where the builder's goes (a
    compiler's diagnostics, into the build log). Raises InputError where it cannot start."""
    argv = [str(a) for a in args]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE if stderr else None,
                              universal_newlines=True, errors="replace", check=False)
    except OSError as exc:
        raise InputError(f"{argv[0]} cannot be run ({exc.strerror})") from exc
    return Outcome(done.returncode, done.stdout, done.stderr or "")


def passthrough(args: Sequence[StrPath]) -> int:
    """Run `args` with the builder's own standard streams (a compiler a wrapper stands in
    for); return its exit status. Raises InputError where it cannot start."""
    argv = [str(a) for a in args]
    try:
        return subprocess.call(argv)
    except OSError as exc:
        raise InputError(f"{argv[0]} cannot be run ({exc.strerror})") from exc


def _stop(proc: subprocess.Popen) -> None:
    """Stop the command and everything it started (make spawns compilers) on Ctrl-C or an
    error: its process group on POSIX; on Windows, which has none, its process tree."""
    if os.name == "nt":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], check=False,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        proc.wait()
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs (a zombie counts, as does one of another user's).
    On Windows it is asked of the process itself: os.kill there would end it."""
    if os.name == "nt":
        import ctypes
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: it exists
        code = ctypes.c_ulong()
        try:
            return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) \
                and code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
