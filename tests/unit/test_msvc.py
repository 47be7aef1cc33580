"""The native Windows path's decisions (builder/platforms/msvc.py), for each architecture the
builder makes Windows wheels for. They run on a Windows runner only; here they are pure
functions of the table, an environment and a stand-in for PATH."""

from pathlib import Path

import pytest

from builder.architectures import ARCHITECTURES
from builder.errors import InputError
from builder.platforms.msvc import (configure_target, dev_prompt_arch, msvc_toolchain,
                                    powershell_literal, ps1_command, ps1_recipe_path,
                                    require_msvc_tools)

WINDOWS = [("x86_64", "VC-WIN64A", "x64", "amd64"),
           ("i686", "VC-WIN32", "x86", "amd64_x86"),
           ("aarch64", "VC-WIN64-ARM", "arm64", "amd64_arm64")]


def dev_prompt(msvc_arch):
    return {"VCToolsVersion": "14.44.35207", "VSCMD_VER": "17.14.9",
            "VSCMD_ARG_TGT_ARCH": msvc_arch}


def on_path(*names):
    return lambda name: f"C:\\tools\\{name}.exe" if name in names else None


@pytest.mark.parametrize("arch, target, msvc_arch, prompt", WINDOWS)
def test_each_windows_architecture_has_its_configure_target_and_developer_prompt(
        arch, target, msvc_arch, prompt):
    assert configure_target(arch) == target
    assert dev_prompt_arch(arch) == prompt


@pytest.mark.parametrize("arch, refusal", [("armv7l", "no Windows wheels for armv7l"),
                                           ("sparc64", "not known to the builder")])
def test_an_architecture_without_windows_facts_is_refused(arch, refusal):
    for decide in (configure_target, dev_prompt_arch, msvc_toolchain):
        with pytest.raises(InputError, match=refusal):
            decide(arch)


def test_the_recipes_underscore_rules_follow_the_table():
    # build_openssl.sh strips `_` for the `mingw` target, build_openssl.ps1 for VC-WIN32.
    for arch in ARCHITECTURES.values():
        if arch.windows:
            facts = arch.windows
            assert facts.leading_underscore == (facts.mingw_openssl_target == "mingw")
            assert facts.leading_underscore == (facts.msvc_openssl_target == "VC-WIN32")


@pytest.mark.parametrize("arch, target, msvc_arch, prompt", WINDOWS)
def test_the_toolchain_comes_from_the_developer_prompts_variables(
        arch, target, msvc_arch, prompt):
    toolchain = msvc_toolchain(arch, dev_prompt(msvc_arch.upper()))
    assert toolchain.cc == "cl" and toolchain.openssl_target == target
    assert toolchain.identity == "MSVC 14.44.35207 (Visual Studio 17.14.9)"
    assert toolchain.triple == f"{arch}-pc-windows-msvc"
    assert (toolchain.nm, toolchain.objcopy) == ("llvm-nm", "llvm-objcopy")


def test_outside_a_developer_prompt_the_toolchain_is_refused_naming_what_to_do():
    environ = dev_prompt("x64")
    del environ["VSCMD_VER"]
    with pytest.raises(InputError) as refused:
        msvc_toolchain("x86_64", environ)
    assert "VSCMD_VER unset" in refused.value.message
    assert "Visual Studio developer prompt" in refused.value.message
    assert "ilammy/msvc-dev-cmd" in refused.value.message


@pytest.mark.parametrize("arch, prompt_arch, advice", [
    ("i686", "x64", "amd64_x86"), ("x86_64", "x86", "amd64"), ("aarch64", "x64", "amd64_arm64")])
def test_a_prompt_for_another_architecture_is_refused_naming_the_right_one(
        arch, prompt_arch, advice):
    with pytest.raises(InputError, match=f"builds for {prompt_arch}, not for {arch}: open it "
                                         f"with {advice} "):
        msvc_toolchain(arch, dev_prompt(prompt_arch))


@pytest.mark.parametrize("present", [("cl", "nmake", "perl"), ("cl", "jom", "perl"),
                                     ("cl", "nmake", "jom", "perl", "nasm")])
def test_the_tools_suffice_with_nmake_or_jom_and_without_nasm(present):
    require_msvc_tools(on_path(*present))


@pytest.mark.parametrize("present, named, not_named", [
    (("nmake", "perl"), ["cl: ", "developer prompt"], ["nmake", "perl:"]),
    (("cl", "perl", "nasm"), ["nmake (or jom): ", "developer prompt"], ["cl ", "perl:"]),
    (("cl", "nmake"), ["perl: install Strawberry Perl"], ["developer prompt"]),
    ((), ["cl and nmake (or jom): ", "developer prompt", "perl: install Strawberry Perl"], []),
])
def test_a_missing_tool_is_refused_in_one_sentence_saying_what_to_do(present, named, not_named):
    with pytest.raises(InputError) as refused:
        require_msvc_tools(on_path(*present))
    message = refused.value.message
    assert all(text in message for text in named), message
    assert not any(text in message for text in not_named), message
    assert "nasm is optional" in message and ". " not in message  # one sentence


def test_the_powershell_recipe_is_packaged_beside_the_flags_it_reads():
    assert ps1_recipe_path().is_file()
    assert (ps1_recipe_path().parent / "configure-flags.txt").is_file()


SCRIPT = Path("C:/Program Files/builder/build_openssl.ps1")


def test_the_recipe_runs_through_one_powershell_line_that_returns_its_exit_code():
    command = ps1_command("pwsh", SCRIPT, "3.0.22", "C:\\openssl", "ab" * 32,
                          Path("C:/src/openssl-3.0.22.tar.gz"), "VC-WIN64A", 4)
    assert command[:-1] == ["pwsh", "-NoLogo", "-NoProfile", "-NonInteractive",
                            "-ExecutionPolicy", "Bypass", "-Command"]
    line = command[-1]
    assert line.startswith(f"& '{SCRIPT}' -Version '3.0.22' -Prefix 'C:\\openssl' ")
    assert f" -Sha256 '{'ab' * 32}' " in line
    assert f" -Tarball '{Path('C:/src/openssl-3.0.22.tar.gz')}'" in line
    assert " -Target 'VC-WIN64A' -Jobs '4' " in line
    assert line.endswith("; exit $LASTEXITCODE")
    assert "-ConfigureArg" not in line and "-NoNamespace" not in line
    assert "-OpenSSLDir" not in line


def test_without_a_hash_or_a_tarball_neither_is_passed_and_the_options_are():
    line = ps1_command("powershell", SCRIPT, "1.1.1w", "C:\\o", None, None, "VC-WIN32", 1,
                       ["no-idea"], openssldir="C:\\ssl", namespace=False)[-1]
    assert "-Sha256" not in line and "-Tarball" not in line
    assert " -OpenSSLDir 'C:\\ssl' -ConfigureArg 'no-idea' -NoNamespace;" in line


@pytest.mark.parametrize("target, jobs, refusal", [("mingw64", 2, "not an MSVC Configure target"),
                                                   ("VC-WIN64A", 0, "jobs must be 1 or more")])
def test_a_command_for_another_target_or_no_jobs_is_refused(target, jobs, refusal):
    with pytest.raises(InputError, match=refusal):
        ps1_command("pwsh", SCRIPT, "3.0.22", "C:\\o", None, None, target, jobs)


@pytest.mark.parametrize("text, literal", [
    ("C:\\o", "'C:\\o'"), ("O'Brien", "'O''Brien'"), ("$x `n", "'$x `n'"),
    # PowerShell's lexer takes the typographic single quotes for quotes too.
    ("it\u2019s \u2018q\u2019 \u201aq\u201b",
     "'it\u2019\u2019s \u2018\u2018q\u2019\u2019 \u201a\u201aq\u201b\u201b'"),
])
def test_a_value_becomes_a_single_quoted_literal_with_its_quotes_doubled(text, literal):
    assert powershell_literal(text) == literal


def test_powershell_reads_back_every_value_as_given():
    # What PowerShell's grammar sees: each value one single-quoted string, the list a list.
    # (No -Sha256 here: the grammar misreads a parameter name that ends in digits.)
    pytest.importorskip("tree_sitter_powershell", reason="tree-sitter-powershell needs 3.10+")
    from tests.powershell import parse, syntax_errors

    values = ["C:\\Users\\O'Brien\\openssl", "CFLAGS=-O2 -g", "-DNAME='x'", "$(calc)"]
    line = ps1_command("pwsh", SCRIPT, "3.0.22", values[0], None, None, "VC-WIN64A", 2,
                       values[1:])[-1]
    assert syntax_errors(line.encode()) == []
    strings, lists, pending = [], [], [parse(line.encode()).root_node]
    while pending:
        node = pending.pop(0)
        if node.type == "verbatim_string_characters":
            # Inside single quotes a doubled quote is one; nothing else is special.
            strings.append(node.text.decode()[1:-1].replace("''", "'"))
        if node.type == "array_literal_expression" and "," in node.text.decode():
            lists.append(node)
        pending[:0] = node.children
    assert strings == [str(SCRIPT), "3.0.22", values[0], "VC-WIN64A", "2", *values[1:]]
    assert len(lists) == 1 and lists[0].text.decode().count("','") == 2
