"""The wheel build: `python -m build --wheel` (PEP 517) of the prepared source, against the
static OpenSSL, through the compiler wrapper that records every link."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple


from builder.platforms.msvc import msvc_link_env, msvc_search_env
from builder.build_env import (build_env, cargo_config_sets_rustflags, host_cc, parallelism_env,
                               put_in_front, reproducible_env, reproducible_paths)
from builder.context import RunContext
from builder.errors import BuilderError
from builder.installer import Installer
from builder.interpreters import (TargetPython, build_command, build_frontend,
                                  frontend_options)
from builder.link_proof import LinkAudit, compiler_env
from builder.openssl import OpenSSLBuild
from builder.platforms import platform_for
from builder.platforms.wheelfiles import rewrite_wheel
from builder.recipes import DEFAULT as DEFAULT_RECIPE, Recipe
from builder.runner import call
from builder.sdist import Sdist
from builder.source import PreparedSource, link_into_source
from builder.target import Target
from builder.toolchain import Toolchain


@dataclass(frozen=True)
class BuiltWheel:
    """A wheel as the build made it, before repair, with what it was built from."""

    path: Path
    sdist: Sdist
    python: TargetPython  # built by python.build, for python.emulated where cross-built
    log: Path
    source_changes: Dict[str, object]  # patches applied, crates used: for the provenance
    link_audit: Optional[LinkAudit] = None  # what its compiler and linker were seen to use
    target_plat: Optional[str] = None  # the --plat it was built for; None: the host's
    installer: str = "pip"  # who made the build's isolated environment: "uv" or "pip"


def build_wheel(
    source: PreparedSource,
    build: OpenSSLBuild,
    python: TargetPython,
    ctx: RunContext,
    outdir: Path,
    target: Target,
    toolchain: Optional[Toolchain] = None,
    recipe: Recipe = DEFAULT_RECIPE,
) -> BuiltWheel:
    """Build one wheel of the prepared source against the static OpenSSL into `outdir`, with
    `python.build` (for `python.emulated` where the target is another architecture).
    Raises CommandFailed for a failed build, BuilderError where it made no single wheel."""
    sdist = source.sdist
    frontend = build_frontend(python.build, ctx)
    log = ctx.log(f"wheel-{sdist.name}-{python.label}")
    vendor = source.changes.get("cargo", {}).get("vendor")  # type: ignore[union-attr]
    keep_cargo_rustflags = cargo_config_sets_rustflags(source.path)
    # One record for the whole run: a build may reuse what an earlier one linked (cargo).
    audit = LinkAudit(outdir.parent / "link-audit")
    for inside, part in recipe.links_for(target):
        link_into_source(source.path, inside, build.prefix / part)
    native_build = not target.zig
    hide = platform_for(target).hide_openssl_flags(build, toolchain, outdir.parent)
    path_names = reproducible_paths(outdir.parent, ctx.cache, build,
                                    Path(vendor) if vendor else None)
    # The host's compiler as the user gave it ($CC may be `ccache gcc`); zig's wrapper else;
    # with --sccache, through the run's sccache server.
    cc = host_cc() if native_build else toolchain.cc
    cxx = os.environ.get("CXX") or "c++" if native_build else None
    sccache = ctx.sccache
    # MSVC's build systems call cl and link by name, never $CC: nothing to wrap.
    msvc = toolchain is not None and toolchain.linker == "msvc"
    wrappers = {} if msvc else compiler_env(
        outdir.parent, sccache.wrap(cc, "cc") if sccache else cc, target.arch, audit,
        cxx=(sccache.wrap(cxx, "c++") if sccache else cxx) if cxx else None,
        link_map=toolchain is None or toolchain.linker != "apple")
    compile_cache = sccache.build_env() if sccache is not None else {}
    # uv inspects the interpreter under the build's variables, and a cross build's
    # _PYTHON_HOST_PLATFORM (macosx-11.0-arm64) makes it take this host's CPython for a broken
    # macOS one: a cross build's isolated environment is pip's.
    installer = (ctx.installer.for_version(python.build.version) if python.emulated is None
                 else Installer())
    index = ctx.settings.index_url if "index-url" in ctx.settings.origins else None
    command = build_command(frontend, source.path, outdir, outdir.parent / "build-env",
                            installer, frontend_options(frontend), index)
    env = {**put_in_front(build_env(build, hide, toolchain=toolchain, emulated=python.emulated),
                          reproducible_env(path_names, ctx.settings.source_date_epoch,
                                           rust=not keep_cargo_rustflags)),
           **wrappers, **compile_cache, **parallelism_env(ctx.jobs, nmake=msvc),
           **recipe.build_env(build.prefix), **source.env, **command.env}
    if msvc:
        env.update(msvc_search_env(build.prefix, env))
        if not source.rust:
            env.update(msvc_link_env(build.prefix, toolchain.symbol_prefix,  # type: ignore
                                     env))
    env["PATH"] = os.pathsep.join([*command.path_first, env.get("PATH", os.defpath)])
    call(command.argv, log=log, env=env,
         what=f"building {sdist.name} {sdist.version} for Python {python.short_version}")
    wheels = sorted(outdir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuilderError(f"building {sdist.name} produced {len(wheels)} wheels, expected 1",
                           log=log)
    scrub_metadata_paths(wheels[0], path_names, outdir.parent, ctx.settings.source_date_epoch)
    platform_for(target).finish_build(wheels[0], outdir.parent, ctx.settings.source_date_epoch)
    return BuiltWheel(wheels[0], sdist, python, log, source.changes, audit, target.plat,
                      command.installer)


def scrub_metadata_paths(wheel: Path, names: Sequence[Tuple[Path, str]], scratch: Path,
                         epoch: int) -> bool:
    """Rewrite, in the wheel's .dist-info text files only (the SBOM maturin writes names the
    unpacked sdist's directory), each build-host directory to its fixed name, as the compilers
    were told for the binaries (`-ffile-prefix-map`); RECORD is rewritten with auditwheel's
    own tools. Binaries are never touched. Returns whether anything changed."""
    pairs = [(str(old).rstrip("/").encode(), new.encode()) for old, new in names
             if len(str(old).rstrip("/")) > 1]
    with zipfile.ZipFile(wheel) as archive:
        hits = [n for n in archive.namelist() if ".dist-info/" in n and not n.endswith("RECORD")
                and any(old in archive.read(n) for old, _ in pairs)]
    if not hits:
        return False

    def scrub(folder: Path) -> None:
        for name in hits:
            path = folder / name
            data = path.read_bytes()
            # The longest (most specific) directory first: the cache may lie inside home.
            for old, new in sorted(pairs, key=lambda pair: -len(pair[0])):
                data = data.replace(old, new)
            path.write_bytes(data)
    rewrite_wheel(wheel, scratch, epoch, scrub)
    return True
