import csv
import datetime as dt

import pytest

from builder.errors import InputError
from builder.releases import load_table, series_of, version_key
from tests.conftest import SHARED

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def table():
    return load_table()


def test_table_covers_1_1_1w_and_every_3_0_patch_from_8_to_22(table):
    wanted = ["1.1.1w"] + [f"3.0.{n}" for n in range(8, 23)]
    assert [v for v in wanted if table.get(v) is None] == []


def test_table_has_a_release_of_every_series_from_3_1_to_4_0(table):
    for series in ["3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "4.0"]:
        assert table.newest_of(series) is not None, series


def test_table_values_match_the_cross_checked_list():
    path = SHARED / "openssl-sha256.tsv"
    if not path.is_file():
        pytest.fail(f"needs {path}, the cross-checked sha256 list in the shared test material")
    rows = {r["version"]: r for r in csv.DictReader(path.open(), delimiter="\t")}
    table = load_table()
    for release in table.releases:
        row = rows[release.version]
        assert release.sha256 == row["sha256"]
        assert release.size == (int(row["size"]) if row["size"] else None)


def test_known_sizes_and_hashes_of_the_shared_tarballs(table):
    assert table.get("3.0.22").size == 15330396
    assert table.get("3.0.22").sha256.startswith("67ebca7e50d1")


def test_exact_version_resolves_to_itself(table):
    assert table.resolve("3.0.13", TODAY).version == "3.0.13"


def test_series_resolves_to_its_newest_known_patch(table):
    assert table.resolve("3.0", TODAY).version == "3.0.22"
    assert table.resolve("1.1.1", TODAY).version == "1.1.1w"


def test_no_version_means_newest_patch_of_newest_supported_lts(table):
    assert table.resolve(None, TODAY).version == "3.5.9"


def test_unknown_version_is_refused_naming_the_nearest_known_ones(table):
    with pytest.raises(InputError) as caught:
        table.resolve("3.0.23", TODAY)
    assert "3.0.23 is not in the release table" in caught.value.message
    assert "3.0.21, 3.0.22, 3.1.0" in caught.value.message
    assert caught.value.exit_code == 2


def test_unknown_series_names_neighbours_in_release_order(table):
    with pytest.raises(InputError, match="3.6.4, 3.6.5, 4.0.0"):
        table.resolve("3.7", TODAY)


def test_end_of_life_series_warns_and_names_supported_releases(table):
    [warning] = table.warnings_for(table.get("3.0.22"), TODAY)
    assert "3.0 reached its end of life on 2026-09-07" in warning
    assert "3.5.9 (LTS)" in warning and "4.0.3" in warning


def test_old_patch_level_warns_with_the_newest_patch(table):
    [warning] = table.warnings_for(table.get("3.5.7"), TODAY)
    assert "3.5.7 is not the newest 3.5 release (3.5.9 is)" in warning


def test_newest_patch_of_a_supported_series_has_no_warning(table):
    assert table.warnings_for(table.get("3.5.9"), TODAY) == []


def test_series_before_3_0_includes_the_third_number():
    assert series_of("1.1.1w") == "1.1.1"
    assert series_of("3.0.13") == "3.0"


def test_version_order_is_numeric():
    assert version_key("3.0.9") < version_key("3.0.13") < version_key("3.1.0")
    assert version_key("1.1.1w") < version_key("3.0.8")
