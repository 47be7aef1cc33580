"""Command line: parse, run a job, render its result or its error. Exit codes: 0 ok, 1 a
failed build, repair or smoke test, 2 bad input (130 when interrupted)."""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import json
import os
import re
import signal
import tempfile
import sys
import threading
import traceback
from pathlib import Path
from typing import List, Mapping, Optional

from builder import __version__, progress, settings
from builder.cibuildwheel import DEFAULT_PREFIX, CibuildwheelConfig
from builder.cargo import CargoOptions, vendor_from
from builder.context import RunContext
from builder.errors import DISK_FULL_ADVICE, NOT_RUN_EXIT, BuilderError, InputError
from builder.source import SourceOptions
from builder.openssl import DEFAULT_OPENSSLDIR, BuildOptions
from builder.jobs.openssl import OpenSSLRequest, build_prefix, release_rows
from builder.advisories import load_advisories
from builder.attest import load_public_key
from builder.jobs.audit import (AuditResult, audit_wheelhouse, fetch_index_wheels,
                                render as render_audit, with_signatures)
from builder.jobs.index import INDEX_FOLDER, write_index
from builder.jobs.rebuild import rebuild
from builder.jobs.inspect import inspect_wheels, render
from builder.jobs.smoke import smoke_wheels
from builder.jobs.wheel import WheelRequest, run_wheel
from builder.releases import load_table
from builder.settings import Settings


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are InputErrors rendered like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise InputError with argparse's message and a pointer to --help (instead of exiting)."""
        raise InputError(f"{message} (see `{self.prog} --help`)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="cache for tarballs, OpenSSL builds and logs "
                             "(default: $BUILDER_CACHE_DIR, builder.toml's cache-dir, or the "
                             "user cache directory)")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks on errors")


def _openssl_options(parser: argparse.ArgumentParser, *, version_flag: bool,
                     default: str = "newest release of the newest LTS series") -> None:
    if version_flag:
        parser.add_argument("--openssl", metavar="VERSION",
                            help=f"OpenSSL release (3.0.13) or series (3.0); default: {default}")
    parser.add_argument("--mirror", action="append", default=[], metavar="URL",
                        help="also fetch the tarball from URL/openssl-X.tar.gz, after the "
                             "upstream locations (repeatable; also $BUILDER_OPENSSL_MIRROR and "
                             "builder.toml's openssl-mirror)")
    parser.add_argument("--no-upstream", dest="upstream", action="store_false",
                        help="fetch only from the mirrors, never from OpenSSL's own servers")
    parser.add_argument("--openssl-source", type=Path, metavar="FILE",
                        help="use this local openssl-X.tar.gz (verified against the table)")
    parser.add_argument("--verify-signature", action="store_true",
                        help="also check OpenSSL's .asc signature against the release keys "
                             "shipped with the builder (needs gpgv)")
    parser.add_argument("--allow-unlisted", action="store_true",
                        help="accept a release the table does not list, on its good signature "
                             "alone (needs --verify-signature)")
    parser.add_argument("--openssldir", default=DEFAULT_OPENSSLDIR, metavar="DIR",
                        help="compiled-in trust store and config directory "
                             f"(default {DEFAULT_OPENSSLDIR}; RHEL: /etc/pki/tls)")
    parser.add_argument("--configure-arg", action="append", default=[], metavar="ARG",
                        help="one more ./Configure argument (repeatable)")
    parser.add_argument("--no-namespace", dest="namespace", action="store_false",
                        help="keep the names of OpenSSL's internal symbols in the static "
                             "archives (default: prefixed, so a package's own names cannot "
                             "collide with them)")
    parser.add_argument("--jobs", "-j", type=_positive_int, metavar="N",
                        help="compile parallelism (default: all cores)")
    parser.add_argument("--remote-cache", metavar="LOCATION",
                        help="share OpenSSL builds, zig and target interpreters between "
                             "machines: an OCI registry repository (ghcr.io/ORG/builder-cache; "
                             "credentials from `docker login` or $BUILDER_REMOTE_CACHE_USERNAME "
                             "and _PASSWORD), a file:///DIR, or a read-only https:// mirror of "
                             "one; pulled from, never pushed to, unless --remote-cache-push "
                             "(also $BUILDER_REMOTE_CACHE and builder.toml's remote-cache)")
    parser.add_argument("--no-remote-cache", dest="remote_cache", action="store_const",
                        const=False, help="use no remote cache, whatever the environment or "
                                          "builder.toml names")
    parser.add_argument("--remote-cache-push", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="also publish to --remote-cache the entries it lacks (default: "
                             "pull only)")
    parser.add_argument("--installer", choices=["auto", "uv", "pip"],
                        help="who installs into the build's isolated environment and the "
                             "smoke tests' virtualenvs (default auto: uv when installed, "
                             "else pip)")
    parser.add_argument("--sccache", action=argparse.BooleanOptionalAction, default=None,
                        help="compile through sccache (OpenSSL, the extension's C, cargo); "
                             "sccache's own SCCACHE_* variables choose its backend (local "
                             "disk, Redis, S3, GitHub Actions cache, WebDAV)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The `builder` argument parser: the subcommands wheel, openssl (list, build), smoke and
    cibuildwheel-config, each with its options and the function that runs it (`func`). Its
    usage errors raise InputError."""
    parser = _Parser(prog="builder", description="Build static Python extension wheels that "
                     "carry their own pinned OpenSSL.")
    parser.add_argument("--version", action="version", version=f"builder {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    wheel = commands.add_parser("wheel", help="build, repair and smoke-test a static wheel",
                                description="Build PACKAGE against a pinned static OpenSSL, "
                                "repair it with auditwheel, smoke-test it in a fresh "
                                "virtualenv and put it into the wheelhouse.")
    wheel.add_argument("target", metavar="PACKAGE",
                       help="NAME or NAME==VERSION on the package index, an sdist file, or a "
                            "source directory")
    _openssl_options(wheel, version_flag=True)
    wheel.add_argument("--python", action="append", default=[], metavar="PYTHON",
                       help="target interpreter: a path, a version such as 3.9, or `all` "
                            "(every CPython on PATH, under pyenv or in /opt/python); "
                            "repeatable (default: the one running the builder)")
    wheel.add_argument("--plat", metavar="TAG",
                       help="platform tag: manylinux (auditwheel's, e.g. manylinux_2_34_x86_64), "
                            "Windows (win_amd64, win32, win_arm64) or macOS "
                            "(macosx_11_0_arm64, macosx_10_13_x86_64, macosx_10_13_universal2); "
                            "default: the most compatible manylinux tag the wheel qualifies for")
    wheel.add_argument("--wheelhouse", "-w", type=Path, default=Path("wheelhouse"),
                       metavar="DIR", help="where finished wheels go (default ./wheelhouse)")
    wheel.add_argument("--index-url", metavar="URL",
                       help="simple package index for sdists (default: $BUILDER_INDEX_URL or "
                            "https://pypi.org/simple)")
    wheel.add_argument("--version-probe", metavar="MODULE:ATTR",
                       help="what reports the package's OpenSSL version text at run time "
                            "(called if callable); default: the package's recipe")
    wheel.add_argument("--smoke", choices=["basic", "full"], default="basic",
                       help="full: also run the package's own test suite from its sdist "
                            "against the installed wheel (default: basic)")
    wheel.add_argument("--patch", action="append", default=[], type=Path, metavar="FILE",
                       help="apply this patch (-p1) to the unpacked sdist (repeatable)")
    wheel.add_argument("--cargo-vendor", type=Path, metavar="DIR",
                       help="crates from this directory source (as `cargo vendor` makes), "
                            "offline, in a private CARGO_HOME (also $BUILDER_CARGO_VENDOR)")
    wheel.add_argument("--cargo-relock", action="store_true",
                       help="re-resolve Cargo.lock offline against --cargo-vendor")
    wheel.add_argument("--sign-key", type=Path, metavar="PEM",
                       help="sign each wheel's attestation (<wheel>.intoto.jsonl: an in-toto "
                            "statement with a SLSA provenance predicate, in a DSSE envelope) "
                            "with this unencrypted PEM private key (Ed25519, ECDSA or RSA); "
                            "without it the attestation is written unsigned")
    wheel.add_argument("--local-version", action="store_true",
                       help="add +openssl<version> to the wheel's version (a local version "
                            "label: NAME==VERSION still takes it, and pip prefers it to the "
                            "plain VERSION)")
    _common(wheel)
    wheel.set_defaults(func=_cmd_wheel)

    openssl = commands.add_parser("openssl", help="list or build OpenSSL releases")
    openssl_commands = openssl.add_subparsers(dest="openssl_command", metavar="COMMAND",
                                              parser_class=_Parser)
    openssl_commands.required = True
    listing = openssl_commands.add_parser("list", help="the release table, and what is cached")
    _common(listing)
    listing.set_defaults(func=_cmd_openssl_list)
    build = openssl_commands.add_parser(
        "build", help="build (or reuse) a static OpenSSL and print its prefix",
        description="Build a static OpenSSL (cached) and print its prefix, e.g. for a CI "
                    "before-all step.")
    build.add_argument("openssl", metavar="VERSION", help="release (3.0.22) or series (3.5)")
    build.add_argument("--plat", metavar="TAG",
                       help="build for this platform tag (e.g. manylinux2014_x86_64: with zig "
                            "for a glibc older than the host's; win_amd64: with zig for Windows)")
    build.add_argument("--prefix", type=Path, metavar="DIR",
                       help="copy the build to DIR (new or empty) instead of printing the "
                            "cache path")
    _openssl_options(build, version_flag=False)
    _common(build)
    build.set_defaults(func=_cmd_openssl_build)

    smoke = commands.add_parser("smoke", help="smoke-test wheels in fresh virtualenvs",
                                description="Install each wheel into a fresh virtualenv with "
                                "no index and assert the OpenSSL version it reports.")
    smoke.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    smoke.add_argument("--openssl", metavar="VERSION",
                       help="expected OpenSSL version (default: from the provenance record "
                            "beside the wheel)")
    smoke.add_argument("--python", metavar="PATH",
                       help="interpreter: a path or a version such as 3.13 (default: this one; "
                            "for a Windows wheel, the newest pinned Windows CPython its tags "
                            "accept, run under wine)")
    smoke.add_argument("--version-probe", metavar="MODULE:ATTR",
                       help="what reports the OpenSSL version text at run time")
    smoke.add_argument("--installer", choices=["auto", "uv", "pip"],
                       help="who makes the fresh virtualenv (default auto: uv when installed, "
                            "else pip)")
    _common(smoke)
    smoke.set_defaults(func=_cmd_smoke)

    inspect = commands.add_parser(
        "inspect", help="say which OpenSSL each wheel carries, and how",
        description="Read each wheel's binaries (any wheel: built here or not) and say which "
                    "OpenSSL each carries (static, bundled, or the system's), its tags, what "
                    "each binary needs of the OS, and its provenance record and SBOMs.")
    inspect.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    inspect.add_argument("--json", action="store_true", help="one JSON document on stdout")
    _common(inspect)
    inspect.set_defaults(func=_cmd_inspect)

    audit = commands.add_parser(
        "audit", help="judge the OpenSSL inside every wheel of a wheelhouse",
        description="Inspect every wheel of a wheelhouse and judge each OpenSSL it carries "
                    "against the release table (series end of life, newer releases) and "
                    "OpenSSL's own vulnerability records. Exit 1 when a wheel carries an "
                    "OpenSSL of an ended series or one an advisory affects (with --strict, "
                    "also one with a newer release), 0 otherwise.")
    audit.add_argument("wheelhouse_or_index", metavar="WHEELHOUSE",
                       help="a folder of wheels, or a simple index's URL (every wheel it "
                            "lists is fetched and audited)")
    audit.add_argument("--json", action="store_true", help="one JSON document on stdout")
    audit.add_argument("--strict", action="store_true",
                       help="every warning fails too (a newer release of the same series, the "
                            "system's OpenSSL)")
    audit.add_argument("--vuln-data", type=Path, metavar="DIR",
                       help="a newer copy of OpenSSL's release-metadata repository (or its "
                            "secjson/) instead of the snapshot shipped with the builder")
    audit.add_argument("--rebuild", action="store_true",
                       help="rebuild each flagged wheel from its sdist (its provenance "
                            "record's) with the newest release of its OpenSSL series, or "
                            "--openssl; the rebuild gets the local version label +opensslX "
                            "and the old wheel moves to WHEELHOUSE/replaced/")
    audit.add_argument("--verify-key", type=Path, metavar="PEM",
                       help="also check each wheel's attestation offline: signed by this PEM "
                            "public key, its subject the wheel's sha256 (exit 1 otherwise)")
    audit.add_argument("--sign-key", type=Path, metavar="PEM",
                       help="with --rebuild: sign the rebuilt wheels' attestations")
    _openssl_options(audit, version_flag=True,
                     default="with --rebuild, the newest release of each wheel's own series")
    _common(audit)
    audit.set_defaults(func=_cmd_audit)

    index = commands.add_parser(
        "index", help="write a static simple index (PEP 503) of a wheelhouse",
        description="Write WHEELHOUSE/simple/: a PEP 503 simple index of its wheels (sha256 "
                    "fragments, data-requires-python), so that a plain web server serving "
                    "WHEELHOUSE serves an index pip installs from.")
    index.add_argument("wheelhouse", type=Path, metavar="WHEELHOUSE")
    _common(index)
    index.set_defaults(func=_cmd_index)

    ci = commands.add_parser(
        "cibuildwheel-config", help="print a [tool.cibuildwheel] configuration for static wheels",
        description="Print a [tool.cibuildwheel] configuration (for pyproject.toml or "
                    "--config-file) that builds the pinned static OpenSSL in each manylinux "
                    "container, points every build at it and smoke-tests every wheel.")
    ci.add_argument("--openssl", metavar="VERSION", help="release or series (default: newest "
                    "release of the newest LTS series)")
    ci.add_argument("--builder-requirement", default="builder", metavar="SPEC",
                    help="how pip installs the builder inside the containers: a name on your "
                         "index, a URL or a path under {project} (default: builder)")
    ci.add_argument("--prefix", default=DEFAULT_PREFIX, metavar="DIR",
                    help=f"where the OpenSSL goes inside the containers (default {DEFAULT_PREFIX})")
    _common(ci)
    ci.set_defaults(func=_cmd_cibuildwheel_config)
    return parser


def _openssl_request(args: argparse.Namespace, settings: Settings) -> OpenSSLRequest:
    return OpenSSLRequest(
        spec=args.openssl,
        mirrors=settings.openssl_mirrors,
        upstream=args.upstream,
        local_source=args.openssl_source,
        verify_signature=args.verify_signature,
        allow_unlisted=args.allow_unlisted,
        options=BuildOptions(openssldir=args.openssldir,
                             configure_args=tuple(args.configure_arg),
                             namespace=args.namespace),
    )


def resolve_settings(args: argparse.Namespace, environ: Mapping[str, str], cwd: Path) -> Settings:
    """The run's settings: these arguments over `environ` over the configuration file (the
    pyproject.toml of a source tree being built, else builder.toml in `cwd`)."""
    target = getattr(args, "target", None)
    project = Path(target) if target and Path(target).is_dir() else None
    return settings.resolve({
        "cache-dir": args.cache_dir,
        "index-url": getattr(args, "index_url", None),
        "openssl-mirror": getattr(args, "mirror", []),
        "jobs": getattr(args, "jobs", None),
        "cargo-vendor": getattr(args, "cargo_vendor", None),
        "remote-cache": getattr(args, "remote_cache", None),
        "remote-cache-push": getattr(args, "remote_cache_push", None),
        "sccache": getattr(args, "sccache", None),
        "installer": getattr(args, "installer", None),
    }, environ, cwd, project)


def _cmd_wheel(args: argparse.Namespace, settings: Settings) -> int:
    ctx = RunContext.create(settings)
    result = run_wheel(WheelRequest(
        target=args.target,
        openssl=_openssl_request(args, settings),
        pythons=tuple(args.python),
        plat=args.plat,
        wheelhouse=args.wheelhouse,
        runtime_probe=args.version_probe,
        source=SourceOptions(
            patches=tuple(args.patch),
            cargo=CargoOptions(
                vendor=vendor_from(settings.cargo_vendor, args.cargo_relock,
                                   settings.origins.get("cargo-vendor", "--cargo-vendor")),
                relock=args.cargo_relock)),
        full_smoke=args.smoke == "full",
        local_version=args.local_version,
        sign_key=args.sign_key,
    ), ctx)
    reasons = sorted({smoke["not_run"] for record in result.records
                      for smoke in record["smoked_on"] if smoke.get("not_run")})
    if reasons:
        progress.say(f"built and checked, not run: {'; '.join(reasons)} (exit {NOT_RUN_EXIT})")
        return NOT_RUN_EXIT
    return 0


def _cmd_openssl_list(args: argparse.Namespace, settings: Settings) -> int:
    print(f"{'version':<10} {'series':<7} {'end of life':<13} {'status':<11} cached")
    for row in release_rows(settings.cache_dir):
        status = ("supported" if row.supported else "EOL") + (" LTS" if row.lts else "")
        print(f"{row.version:<10} {row.series:<7} {str(row.eol or 'unknown'):<13} "
              f"{status:<11} {'yes' if row.cached else ''}")
    return 0


def _cmd_openssl_build(args: argparse.Namespace, settings: Settings) -> int:
    print(build_prefix(_openssl_request(args, settings), RunContext.create(settings),
                       args.plat, args.prefix))
    return 0


def _cmd_smoke(args: argparse.Namespace, settings: Settings) -> int:
    failed, not_run = 0, False
    for outcome in smoke_wheels(args.wheels, RunContext.create(settings), python=args.python,
                                openssl=args.openssl, probe=args.version_probe):
        if outcome.error is not None:
            failed = max(failed, outcome.error.exit_code)
            _render(outcome.error, verbose=args.verbose)
        elif outcome.not_run is not None:
            not_run = True
            for line in outcome.found:
                progress.say(f"    found {line}")
            for line in outcome.checks:
                progress.say(f"    checked: {line}")
            progress.say(f"    not run: {outcome.not_run} (exit {NOT_RUN_EXIT})")
        else:
            progress.say(f"    passed: OpenSSL {outcome.expected} ({outcome.seconds}s)")
    # A failure outweighs a test that could not run; either outweighs a pass.
    return failed or (NOT_RUN_EXIT if not_run else 0)


def _cmd_inspect(args: argparse.Namespace, settings: Settings) -> int:
    reports = inspect_wheels(args.wheels)
    if args.json:
        json.dump([r.as_json() for r in reports], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for report in reports:
            print("\n".join(render(report)))
    return 0


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    data = load_advisories(args.vuln_data)
    if re.match(r"^https?://", str(args.wheelhouse_or_index)):
        if args.rebuild:
            raise InputError("--rebuild writes the rebuilt wheels into a wheelhouse: give its "
                             "folder, not an index URL")
        if args.verify_key is not None:
            raise InputError("--verify-key reads each wheel's attestation beside it, which an "
                             "index does not serve: give the wheelhouse's folder")
        ctx = RunContext.create(settings)
        with tempfile.TemporaryDirectory(prefix="builder-audit-") as scratch:
            folder = fetch_index_wheels(str(args.wheelhouse_or_index), Path(scratch) / "wheels",
                                        ctx.store)
            result = audit_wheelhouse(folder, load_table(), data, dt.date.today(),
                                      strict=args.strict)
            return _show_audit(args, result, folder)
    args.wheelhouse = Path(args.wheelhouse_or_index)
    result = audit_wheelhouse(args.wheelhouse, load_table(), data, dt.date.today(),
                              strict=args.strict)
    if args.rebuild and result.exit_code:
        if not args.json:
            print("\n".join(render_audit(result)))
        for done in rebuild(result, args.wheelhouse, _openssl_request(args, settings),
                            RunContext.create(settings), args.sign_key):
            progress.say(f"    {done.old} replaced by {', '.join(done.new)} (OpenSSL "
                         f"{done.openssl})")
        if (args.wheelhouse / INDEX_FOLDER).is_dir():
            write_index(args.wheelhouse)
        result = audit_wheelhouse(args.wheelhouse, load_table(), data, dt.date.today(),
                                  strict=args.strict)
    return _show_audit(args, result, args.wheelhouse)


def _show_audit(args: argparse.Namespace, result: AuditResult, folder: Path) -> int:
    if args.verify_key is not None:
        result = with_signatures(result, folder, load_public_key(args.verify_key))
    if args.json:
        json.dump(result.as_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n".join(render_audit(result)))
    return result.exit_code


def _cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    root, projects = write_index(args.wheelhouse)
    count = sum(len(wheels) for wheels in projects.values())
    print(f"{root}: {len(projects)} projects, {count} wheels; serve {args.wheelhouse} with any "
          f"web server and install with pip --index-url http://HOST/{root.name}/")
    return 0


def _cmd_cibuildwheel_config(args: argparse.Namespace, settings: Settings) -> int:
    release = load_table().resolve(args.openssl)
    config = CibuildwheelConfig(release, args.builder_requirement, args.prefix)
    sys.stdout.write(config.toml())
    return 0


def _render(exc: BuilderError, *, verbose: bool) -> None:
    if verbose:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    if exc.tail:
        print("\n".join(f"  | {line}" for line in exc.tail), file=sys.stderr)
    print(f"error: {exc.message}", file=sys.stderr)
    if exc.log is not None:
        print(f"full log: {exc.log}", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    """Parse `argv` (default sys.argv[1:]), resolve the settings and run the command; return the
    exit code: the command's own (0; 3 where wheels were built and checked but a smoke test
    could not run here; `smoke` returns the worst of its wheels' codes), a
    BuilderError's (1, or 2 for InputError) after printing it, 130 when interrupted, 1 for an
    OSError (a full disk, a folder that cannot be written)."""
    parser = build_parser()
    verbose = "--verbose" in (argv if argv is not None else sys.argv[1:])
    if threading.current_thread() is threading.main_thread():
        # Started from a background job, the builder inherits SIGINT ignored: it must still
        # stop (and clean up) when interrupted.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        args = parser.parse_args(argv)
        return int(args.func(args, resolve_settings(args, os.environ, Path.cwd())))
    except BuilderError as exc:
        _render(exc, verbose=verbose)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of the output went away (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # the machine, not the builder: a full disk, a read-only folder
        where = f" ({exc.filename})" if exc.filename else ""
        advice = DISK_FULL_ADVICE if exc.errno in (errno.ENOSPC, errno.EDQUOT) \
            else "check that folder's permissions and free space"
        _render(BuilderError(f"{exc.strerror or exc}{where}; {advice}; nothing half-written "
                             f"was kept"), verbose=verbose)
        return 1
