"""Judging an OpenSSL: the ranges of OpenSSL's own vulnerability records read by their own
rules (semver per series, letter releases, `lessThanOrEqual` where no fix is named), the
shipped snapshot, and the verdicts of `builder audit`."""

import datetime as dt
import json

import pytest

from builder.advisories import (AdvisoryData, AffectedRange, load_advisories, parse_record,
                                shipped_folder)
from builder.errors import InputError
from builder.jobs.audit import FAIL, OK, WARNING, AuditResult, WheelAudit, judge
from builder.jobs.inspect import CarriedOpenSSL
from builder.releases import load_table

TODAY = dt.date(2026, 12, 1)


def record(name):
    return json.loads((shipped_folder() / f"{name}.json").read_text())


@pytest.mark.parametrize("version,holds", [
    ("3.0.0", True), ("3.0.14", True), ("3.0.15", False), ("3.1.2", False), ("2.9.9", False)])
def test_a_semver_range_holds_its_series_from_the_first_affected_to_before_the_fix(version,
                                                                                   holds):
    assert AffectedRange("3.0.0", fixed="3.0.15").holds(version) is holds


@pytest.mark.parametrize("version,holds", [
    ("1.1.1", True), ("1.1.1w", True), ("1.1.1z", True), ("1.1.1za", False), ("1.1.1zb", False),
    ("1.1.0l", False)])
def test_letter_releases_sort_by_their_letters(version, holds):
    assert AffectedRange("1.1.1", fixed="1.1.1za").holds(version) is holds


def test_a_range_without_a_fix_holds_up_to_its_last_affected_release():
    unfixed = AffectedRange("3.0.0", last_affected="3.0.7")
    assert unfixed.holds("3.0.7") and not unfixed.holds("3.0.8")
    assert unfixed.fix() == "no fixed release named (affected up to 3.0.7)"


def test_a_fix_after_the_last_public_release_of_a_series_is_no_public_fix():
    assert AffectedRange("1.1.1", fixed="1.1.1zh").fix() == \
        "no public fix (1.1.1zh is a premium-support release)"
    assert AffectedRange("1.1.1", fixed="1.1.1w").fix() == "1.1.1w"
    assert AffectedRange("1.0.2", fixed="1.0.2zk").fix().startswith("no public fix")
    assert AffectedRange("3.0.0", fixed="3.0.15").fix() == "3.0.15"


def test_records_are_read_as_openssl_writes_them():
    advisory = parse_record(record("CVE-2024-5535"))
    assert (advisory.cve, advisory.severity, advisory.published) == \
        ("CVE-2024-5535", "Low", dt.date(2024, 6, 26))
    assert advisory.range_holding("3.0.14").fix() == "3.0.15"
    assert advisory.range_holding("3.0.15") is None
    unfixed = parse_record(record("CVE-2022-3996"))
    assert unfixed.range_holding("3.0.7").last_affected == "3.0.7"
    # Ranges between pre-releases (0.9.7-beta3) are left out; the record still reads.
    assert parse_record(record("CVE-2002-0657")).cve == "CVE-2002-0657"


def test_the_shipped_snapshot_says_how_new_it_is():
    data = load_advisories()
    assert len(data.advisories) == 272
    assert data.newest == dt.date(2026, 6, 9)
    assert "shipped with the builder" in data.source


def test_a_folder_without_records_is_refused(tmp_path):
    with pytest.raises(InputError, match="no CVE-\\*.json records"):
        load_advisories(tmp_path)


def test_a_copy_of_the_repository_is_read_through_its_secjson_folder(tmp_path):
    (tmp_path / "secjson").mkdir()
    (tmp_path / "secjson" / "CVE-2024-5535.json").write_text(json.dumps(record("CVE-2024-5535")))
    data = load_advisories(tmp_path)
    assert [a.cve for a in data.advisories] == ["CVE-2024-5535"]


def verdict(version, how="static"):
    return judge(CarriedOpenSSL(version, how, "m.so"), load_table(), load_advisories(), TODAY)


def test_an_ended_series_with_advisories_fails_naming_each():
    judged = verdict("1.1.1w")
    assert judged.verdict == FAIL
    assert "series 1.1.1 ended on 2023-09-11" in judged.reasons
    assert any(r.startswith("24 advisories affect it (the worst: High)") for r in judged.reasons)
    assert all(h.fix.startswith("no public fix") for h in judged.advisories)


def test_an_ended_series_fails_even_where_no_advisory_names_the_release():
    judged = verdict("3.0.22")
    assert judged.verdict == FAIL and judged.advisories == ()
    assert judged.reasons == ("series 3.0 ended on 2026-09-07",)


def test_a_newer_release_of_a_supported_series_is_a_warning():
    judged = verdict("3.5.7")
    assert judged.verdict == WARNING
    assert judged.reasons == ("3.5.9 is the newest release of 3.5",)


def test_the_newest_release_of_a_supported_series_is_ok():
    assert verdict("3.5.9").verdict == OK


def test_an_affected_release_fails_with_the_fix_of_its_series():
    judged = verdict("3.5.0")
    assert judged.verdict == FAIL
    assert {h.fix for h in judged.advisories} <= {"3.5.1", "3.5.2", "3.5.3", "3.5.4", "3.5.5",
                                                   "3.5.6", "3.5.7"}


def test_the_systems_openssl_cannot_be_judged_and_says_so():
    judged = verdict(None, how="system")
    assert judged.verdict == WARNING and "cannot say which" in judged.reasons[0]


def test_the_exit_code_fails_on_a_failing_wheel_and_with_strict_on_a_warning_too():
    def result(*verdicts, strict=False):
        wheels = tuple(WheelAudit(f"w{i}.whl", (verdict(v),)) for i, v in enumerate(verdicts))
        return AuditResult(wheels, "test", None, TODAY, strict)
    assert result("3.5.9").exit_code == 0
    assert result("3.5.9", "3.5.7").exit_code == 0
    assert result("3.5.9", "3.5.7", strict=True).exit_code == 1
    assert result("3.5.9", "3.0.22").exit_code == 1
    assert WheelAudit("none.whl", ()).verdict == OK


def test_advisories_are_listed_newest_first():
    data = AdvisoryData(tuple(parse_record(record(n)) for n in ("CVE-2024-5535",
                                                                "CVE-2026-9076")), "t", None)
    assert [a.cve for a, _ in data.affecting("3.0.14")] == ["CVE-2026-9076", "CVE-2024-5535"]
