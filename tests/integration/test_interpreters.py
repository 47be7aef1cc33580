"""Which interpreters this machine has, asked of the interpreters themselves."""

import sys

import pytest

from builder.errors import InputError
from builder.interpreters import discover, find_interpreters


def test_versions_name_interpreters_and_duplicates_collapse_oldest_first():
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    others = [i.short_version for i in discover() if i.short_version != mine]
    if not others:
        pytest.fail("this test needs a second CPython on PATH or under pyenv")
    found = find_interpreters([sys.executable, others[-1], mine, others[0]])
    versions = [i.short_version for i in found]
    assert sorted(set(versions)) == sorted({mine, others[0], others[-1]})
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))))


def test_all_finds_this_interpreters_version_among_the_machines_cpythons():
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    versions = [i.short_version for i in discover()]
    assert mine in versions and versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))))


def test_a_version_with_no_interpreter_on_the_machine_is_bad_input():
    with pytest.raises(InputError, match="--python 3.99: no CPython 3.99"):
        find_interpreters(["3.99"])
