"""A package index (PEP 691 JSON or PEP 503 HTML simple API): the files of a project."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Dict, List, Optional
from urllib.parse import urldefrag, urljoin

from packaging.utils import InvalidSdistFilename, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from builder.errors import InputError
from builder.fetch import NotFound, Page, fetch_page

SDIST_SUFFIXES = (".tar.gz", ".zip")


@dataclass(frozen=True)
class IndexFile:
    """One file of a project on the package index: its name, absolute URL, sha256 (hex, None where
    the index gives none) and whether it is yanked."""

    filename: str
    url: str
    sha256: Optional[str]
    yanked: bool

    @property
    def version(self) -> Optional[Version]:
        """The version in the file's sdist name; None where the name is not a valid sdist name."""
        try:
            return parse_sdist_filename(self.filename)[1]
        except (InvalidSdistFilename, InvalidVersion):
            return None


def index_projects(index_url: str, *, advice: str) -> List[str]:
    """The project names an index's root page lists (PEP 503 HTML or PEP 691 JSON). Raises
    InputError where the URL is not an index's root, BuilderError (ending with `advice`) where
    it cannot be read."""
    page = _simple_page(f"{index_url.rstrip('/')}/", advice,
                        f"{index_url} is not a simple index (HTTP 404)")
    if "json" in page.content_type:
        return [p["name"] for p in json.loads(page.text).get("projects", [])]
    parser = _AnchorParser()
    parser.feed(page.text)
    return [(a.get("href") or "").rstrip("/").rsplit("/", 1)[-1] for a in parser.anchors
            if a.get("href")]


def index_files(index_url: str, name: str, suffixes: tuple = SDIST_SUFFIXES, *,
                advice: str) -> List[IndexFile]:
    """The files of one project on the index whose names end with `suffixes`. Raises
    InputError when the index does not know the project, BuilderError (ending with `advice`)
    when the index cannot be read."""
    url = f"{index_url.rstrip('/')}/{name}/"
    page = _simple_page(url, advice, f"{name} does not exist on the package index {index_url}")
    if "json" in page.content_type:
        files = [IndexFile(f["filename"], urljoin(url, f["url"]), f["hashes"].get("sha256"),
                           bool(f.get("yanked"))) for f in json.loads(page.text)["files"]]
    else:
        files = _parse_simple_html(page.text, url)
    return [f for f in files if f.filename.endswith(suffixes)]


def _simple_page(url: str, advice: str, missing: str) -> Page:
    """One page of the simple API, JSON preferred (PEP 691). Raises InputError saying
    `missing` on HTTP 404, BuilderError (ending with `advice`) where it cannot be read."""
    try:
        return fetch_page(url, advice=advice,
                          accept="application/vnd.pypi.simple.v1+json, text/html;q=0.1")
    except NotFound as exc:
        raise InputError(missing) from exc


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: List[Dict[str, Optional[str]]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        """Keep the attributes of every `<a>` tag."""
        if tag == "a":
            self.anchors.append(dict(attrs))


def _parse_simple_html(text: str, base: str) -> List[IndexFile]:
    parser = _AnchorParser()
    parser.feed(text)
    files = []
    for anchor in parser.anchors:
        href = anchor.get("href") or ""
        link, fragment = urldefrag(urljoin(base, href))
        match = re.match(r"sha256=([0-9a-f]{64})", fragment)
        files.append(IndexFile(link.rsplit("/", 1)[-1], link, match.group(1) if match else None,
                               "data-yanked" in anchor))
    return files
