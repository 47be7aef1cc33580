"""What a rebuild asks for (from the provenance record), the local version label it gives the
rebuilt wheel, and the static simple index of a wheelhouse."""

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from builder.errors import InputError
from builder.jobs.audit import FAIL, OK, WARNING, AuditResult, Judgement, WheelAudit
from builder.jobs.index import write_index
from builder.jobs.openssl import OpenSSLRequest
from builder.jobs.rebuild import rebuild_requests
from builder.platforms.wheelfiles import with_local_version


def a_wheel(folder: Path, name="demo", version="1.0", tag="cp313-cp313-manylinux_2_17_x86_64",
            requires_python=None) -> Path:
    wheel = folder / f"{name}-{version}-{tag}.whl"
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "")
        archive.writestr(f"{info}/METADATA", metadata)
        archive.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nTag: {tag}\n")
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def test_a_local_version_label_renames_the_wheel_its_dist_info_and_metadata_together(tmp_path):
    old = a_wheel(tmp_path, version="1.0+local1")
    new = with_local_version(old, "openssl3.5.9", tmp_path / "scratch", 315532800)
    assert new.name == "demo-1.0+openssl3.5.9-cp313-cp313-manylinux_2_17_x86_64.whl"
    assert not old.exists()
    with zipfile.ZipFile(new) as archive:
        names = archive.namelist()
        assert "demo-1.0+openssl3.5.9.dist-info/METADATA" in names
        assert not any(n.startswith("demo-1.0+local1.dist-info") for n in names)
        metadata = archive.read("demo-1.0+openssl3.5.9.dist-info/METADATA").decode()
        record = archive.read("demo-1.0+openssl3.5.9.dist-info/RECORD").decode()
    assert "Version: 1.0+openssl3.5.9\n" in metadata
    digest = hashlib.sha256(metadata.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() in record


def record(folder: Path, wheel: str, **fields) -> None:
    data = {"package": "demo", "version": "1.0", "python": "cpython 3.13.0 (/nonexistent/py)",
            "sdist": {"source": "https://files.example/demo-1.0.tar.gz"},
            "openssl": {"version": "3.0.22"}, "smoke": {"runtime_probe": "demo:v"},
            "tag": "manylinux_2_17_x86_64", **fields}
    (folder / f"{wheel}.provenance.json").write_text(json.dumps(data))


def result(*verdicts, strict=False):
    wheels = tuple(WheelAudit(f"w{i}-1.0-py3-none-any.whl",
                              (Judgement("3.0.22", "static", "m.so", v, ("r",)),))
                   for i, v in enumerate(verdicts))
    return AuditResult(wheels, "t", None, None, strict)


def test_a_rebuild_asks_again_for_what_the_record_names_with_the_series_newest_openssl(
        tmp_path):
    record(tmp_path, "w0-1.0-py3-none-any.whl")
    record(tmp_path, "w2-1.0-py3-none-any.whl", plat="macosx_11_0_arm64",
           sdist={"source": str(tmp_path)}, python="cpython 3.12.1 (/gone/python)",
           openssl={"version": "1.1.1w"})
    [first, second] = rebuild_requests(result(FAIL, OK, FAIL), tmp_path, OpenSSLRequest())
    assert (first.target, first.pythons, first.plat) == ("demo==1.0", ("3.13",), None)
    assert first.openssl.spec == "3.0.22"  # the newest of its series in the table
    assert first.runtime_probe == "demo:v" and first.local_version
    assert (second.target, second.pythons, second.plat) == (str(tmp_path), ("3.12",),
                                                            "macosx_11_0_arm64")
    assert second.openssl.spec == "1.1.1w"


def test_an_older_record_without_plat_keeps_its_windows_or_macos_tag(tmp_path):
    record(tmp_path, "w0-1.0-py3-none-any.whl", tag="win_amd64")
    [request] = rebuild_requests(result(FAIL), tmp_path, OpenSSLRequest(spec="3.5.7"))
    assert request.plat == "win_amd64" and request.openssl.spec == "3.5.7"


def test_warnings_are_rebuilt_only_with_strict(tmp_path):
    record(tmp_path, "w0-1.0-py3-none-any.whl")
    assert rebuild_requests(result(WARNING), tmp_path, OpenSSLRequest()) == []
    assert len(rebuild_requests(result(WARNING, strict=True), tmp_path, OpenSSLRequest())) == 1


def test_a_flagged_wheel_without_a_record_is_refused_before_anything_is_built(tmp_path):
    with pytest.raises(InputError, match="has no provenance record beside it"):
        rebuild_requests(result(FAIL), tmp_path, OpenSSLRequest())


def test_the_index_lists_each_project_with_hashes_and_requires_python(tmp_path):
    wheel = a_wheel(tmp_path, name="Demo_Pkg", requires_python=">=3.9")
    a_wheel(tmp_path, name="other")
    root, projects = write_index(tmp_path)
    assert projects == {"demo-pkg": [wheel.name], "other": ["other-1.0-cp313-cp313-"
                                                            "manylinux_2_17_x86_64.whl"]}
    page = (root / "demo-pkg" / "index.html").read_text()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f'href="../../{wheel.name}#sha256={digest}"' in page
    assert 'data-requires-python="&gt;=3.9"' in page
    assert '<a href="other/">other</a>' in (root / "index.html").read_text()
    (tmp_path / "other-1.0-cp313-cp313-manylinux_2_17_x86_64.whl").unlink()
    write_index(tmp_path)
    assert not (root / "other").exists()


def test_an_index_of_nothing_is_refused(tmp_path):
    with pytest.raises(InputError, match="holds no .whl file"):
        write_index(tmp_path)
