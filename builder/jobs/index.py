"""The `index` job: a static PEP 503 simple index of a wheelhouse (`<wheelhouse>/simple/`), so
that any plain web server serving the wheelhouse serves an index pip installs from
(`--index-url http://host/simple/`)."""

from __future__ import annotations

import html
import os
import zipfile
from email.parser import HeaderParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from packaging.utils import canonicalize_name, parse_wheel_filename

from builder.errors import InputError
from builder.fetch import sha256_file

INDEX_FOLDER = "simple"


def requires_python(wheel: Path) -> Optional[str]:
    """The Requires-Python of a wheel's METADATA (read with the standard library's e-mail
    header parser, the format's own); None where it names none."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist()
                 if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(names) != 1:
            return None
        headers = HeaderParser().parsestr(archive.read(names[0]).decode("utf-8", "replace"))
    return headers.get("Requires-Python")


def write_index(wheelhouse: Path) -> Tuple[Path, Dict[str, List[str]]]:
    """Write `<wheelhouse>/simple/index.html` and one `simple/<project>/index.html` per project
    (PEP 503: normalized names; each link relative to the wheel, with a `#sha256=` fragment
    and `data-requires-python`), replacing what was there. Returns the index folder and
    {project: [wheel file names]}. Raises InputError where `wheelhouse` holds no wheel."""
    if not wheelhouse.is_dir():
        raise InputError(f"{wheelhouse} is not a directory; give the wheelhouse's folder")
    projects: Dict[str, List[Path]] = {}
    for wheel in sorted(wheelhouse.glob("*.whl")):
        name, _, _, _ = parse_wheel_filename(wheel.name)
        projects.setdefault(str(canonicalize_name(name)), []).append(wheel)
    if not projects:
        raise InputError(f"{wheelhouse} holds no .whl file; give the wheelhouse's folder")
    root = wheelhouse / INDEX_FOLDER
    root.mkdir(exist_ok=True)
    for stale in root.glob("*/index.html"):  # a project whose wheels are gone
        if stale.parent.name not in projects:
            stale.unlink()
            if not any(stale.parent.iterdir()):
                stale.parent.rmdir()
    _write(root / "index.html", "Simple index",
           [f'<a href="{html.escape(p)}/">{html.escape(p)}</a>' for p in sorted(projects)])
    for project, wheels in projects.items():
        links = []
        for wheel in wheels:
            requires = requires_python(wheel)
            attribute = (f' data-requires-python="{html.escape(requires)}"' if requires else "")
            href = f"../../{wheel.name}#sha256={sha256_file(wheel)}"
            links.append(f'<a href="{html.escape(href)}"{attribute}>{html.escape(wheel.name)}</a>')
        (root / project).mkdir(exist_ok=True)
        _write(root / project / "index.html", f"Links for {project}", links)
    return root, {p: [w.name for w in ws] for p, ws in projects.items()}


def _write(path: Path, title: str, links: List[str]) -> None:
    """One page of the index, written beside itself and renamed into place (a server never
    serves half a page)."""
    text = (f"<!DOCTYPE html>\n<html>\n<head><meta name=\"pypi:repository-version\" "
            f"content=\"1.0\"><title>{html.escape(title)}</title></head>\n<body>\n"
            + "".join(f"{link}<br>\n" for link in links) + "</body>\n</html>\n")
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(text)
    os.replace(temp, path)
