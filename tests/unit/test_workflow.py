"""The GitHub Actions workflow (.github/workflows/wheels.yml) is valid YAML and asks only for
what the project can do: every builder command it runs is one the builder's own parser
accepts; every call of the PowerShell recipe uses parameters the recipe declares, with the
Configure target, release and sha256 the builder's tables give; each Windows job's developer
prompt is the one for its architecture; the Windows and macOS jobs that run the Linux-built
wheels have the Pythons they were built for; a macOS build on Linux is let end with exit 3
(built and checked, not run) and nothing else is; the Windows and macOS jobs run the builder
natively for what their own interpreter and machine can build and run. Each check is also
shown failing on a broken copy of the workflow."""

import copy
import hashlib
import re
import shlex
import sys

import pytest

from builder.architectures import ARCHITECTURES, macos_tag, windows_architecture
from builder.cli import build_parser
from builder.errors import InputError
from builder.platforms.msvc import dev_prompt_arch
from builder.platforms.wine import EMBEDDABLE
from builder.releases import load_table
from builder.target import native_target
from tests.conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

yaml = pytest.importorskip("yaml")

WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"
RECIPE = ROOT / "scripts" / "build_openssl.ps1"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
# What setup-python's python-path output stands for in a builder command.
PYTHON_PATH = "/opt/hostedtoolcache/Python/{version}.0/x64/bin/python3"
# How a shell step lets a build that could not run its smoke test here pass (exit 3).
NOT_RUN_OK = "|| test $? -eq 3"
# What a Linux host needs for Windows wheels: wine runs the smoke test, LLVM reads COFF
# objects, osslsigncode checks the Windows CPython's Authenticode digest.
WINDOWS_WHEEL_PACKAGES = {"wine64", "llvm", "osslsigncode"}
# What an MSVC build of OpenSSL installs for linking an extension statically.
PREFIX_HOLDS = ("lib/libcrypto.lib", "lib/libssl.lib", "include/openssl/opensslv.h")


def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def using(job, action):
    """The steps of `job` that use `action` (any version)."""
    return [step for step in job["steps"] if step.get("uses", "").startswith(f"{action}@")]


def entries(job):
    return job.get("strategy", {}).get("matrix", {}).get("include", [{}])


def steps_for(job, entry):
    """The steps that run for one matrix entry: those with no `if`, or an `if` comparing a
    matrix value with a string that holds for it."""
    for step in job["steps"]:
        condition = step.get("if")
        if condition is None:
            yield step
            continue
        match = re.fullmatch(r"matrix\.([\w-]+) == '([^']*)'", condition.strip())
        assert match, f"unknown condition {condition!r}"
        if str(entry.get(match.group(1))) == match.group(2):
            yield step


def python_version(job, entry=None):
    """The CPython version setup-python gives the job (the step with id `python` where there
    are several), a matrix value filled in."""
    setups = using(job, "actions/setup-python")
    (setup,) = setups if len(setups) == 1 else [s for s in setups if s.get("id") == "python"]
    return fill_matrix(str(setup["with"]["python-version"]), entry or {})


def fill_matrix(text, entry):
    def fill(match):
        name = match.group(1)
        assert name.startswith("matrix."), f"unknown expression {name}"
        assert name[len("matrix."):] in entry, f"no {name} in the matrix entry {entry}"
        return str(entry[name[len("matrix."):]])
    return EXPRESSION.sub(fill, text)


def python_paths(job):
    """{setup-python step id: the python-path it outputs}."""
    return {step["id"]: PYTHON_PATH.format(version=step["with"]["python-version"])
            for step in using(job, "actions/setup-python") if "id" in step}


def runs(job, entry):
    """The run text of each step that runs for `entry`, its expressions filled in."""
    paths = python_paths(job)

    def fill(match):
        name = match.group(1)
        if name.startswith("matrix."):
            return fill_matrix(match.group(0), entry)
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.python-path", name)
        assert step and step.group(1) in paths, f"unknown expression {name}"
        return paths[step.group(1)]
    return [EXPRESSION.sub(fill, step["run"]) for step in steps_for(job, entry) if "run" in step]


def lines_starting(texts, start):
    """The words of each line of `texts` that starts with `start`, up to a shell operator
    (`||`, `&&`, `;`)."""
    found = []
    for line in (line for text in texts for line in text.splitlines()):
        if line.strip().startswith(start):
            words = shlex.split(line)
            cut = next((at for at, word in enumerate(words) if word in ("||", "&&", ";")),
                       len(words))
            found.append(words[:cut])
    return found


def builder_commands(job, entry):
    """The parsed arguments of each `python -m builder` line; an AssertionError for one the
    builder's parser refuses."""
    parsed = []
    for words in lines_starting(runs(job, entry), "python -m builder "):
        try:
            parsed.append(build_parser().parse_args(words[3:]))
        except InputError as refused:
            raise AssertionError(f"{shlex.join(words)}: {refused.message}") from None
    return parsed


def declared_parameters(source):
    """The parameter names of a PowerShell script's top-level param() block."""
    pytest.importorskip("tree_sitter_powershell", reason="tree-sitter-powershell needs 3.10+")
    from tests.powershell import parse

    (block,) = [node for node in parse(source).root_node.children if node.type == "param_block"]
    names, pending = [], [block]
    while pending:
        node = pending.pop(0)
        if node.type == "script_parameter":
            (variable,) = [child for child in node.children if child.type == "variable"]
            names.append(variable.text.decode().lstrip("$"))
        else:
            pending[:0] = node.children
    return names


def recipe_calls(job, entry):
    """{parameter: value (True for a switch)} of each call of build_openssl.ps1."""
    calls = []
    lines = [line for text in runs(job, entry) for line in text.splitlines()
             if "build_openssl.ps1" in line]
    for words in map(shlex.split, lines):
        script = next(at for at, word in enumerate(words) if word.endswith("build_openssl.ps1"))
        call, rest = {}, words[script + 1:]
        while rest:
            name = rest.pop(0)
            assert re.fullmatch(r"-[A-Za-z]\w*", name), f"{name!r} is no parameter name"
            switch = not rest or re.fullmatch(r"-[A-Za-z]\w*", rest[0])
            call[name[1:]] = True if switch else rest.pop(0)
        calls.append(call)
    return calls


def linux_wheels(doc):
    """The linux job's builder commands: (the host's own wheel, the Windows one)."""
    job = doc["jobs"]["linux"]
    commands = builder_commands(job, {})
    native = [args for args in commands if args.plat is None]
    windows = [args for args in commands if args.plat and windows_architecture(args.plat)]
    assert len(native) == 1 and len(windows) == 1, \
        f"the linux job builds {[args.plat for args in commands]}, not one wheel for this " \
        f"host and one for Windows"
    return native[0], windows[0]


def macos_wheels(doc):
    """The linux job's builder commands for macOS tags."""
    return [args for args in builder_commands(doc["jobs"]["linux"], {})
            if args.plat and macos_tag(args.plat)]


# The checks: each raises AssertionError on a workflow that cannot pass.

def check_every_builder_command(doc):
    for name, job in doc["jobs"].items():
        for entry in entries(job):
            commands = builder_commands(job, entry)
            if not commands:
                continue
            texts = runs(job, entry)
            assert "python -m pip install ." in texts, f"{name} runs the builder uninstalled"
            for args in commands:
                assert args.command == "wheel" and args.openssl == "3.0.22"
                # The interpreter is setup-python's, whose version the job pins.
                assert len(args.python) == 1 and args.python[0] in python_paths(job).values(), \
                    f"{name}: --python {args.python}"
                uploads = [step["with"]["path"]
                           for step in using(job, "actions/upload-artifact")]
                assert f"{args.wheelhouse}/" in uploads, f"{name} uploads {uploads}"


def check_linux_job(doc):
    job = doc["jobs"]["linux"]
    assert job["runs-on"] == "ubuntu-latest"
    _, windows = linux_wheels(doc)
    # The package is the fixture in this repository, built from its directory.
    assert (ROOT / windows.target / "pyproject.toml").is_file(), windows.target
    version = tuple(int(n) for n in python_version(job).split("."))
    assert version in EMBEDDABLE, f"no Windows CPython {python_version(job)} is pinned"
    # Only a macOS build may end with exit 3 (built and checked, not run): it must.
    for line in (line for text in runs(job, {}) for line in text.splitlines()
                 if line.startswith("python -m builder ")):
        plat = re.search(r"--plat (\S+)", line)
        mac = bool(plat and macos_tag(plat.group(1)))
        assert line.endswith(NOT_RUN_OK) == mac, \
            f"{line[:80]}...: a {'macOS' if mac else 'runnable'} build must " \
            f"{'' if mac else 'not '}be let end with exit 3"
    installs = [shlex.split(line) for text in runs(job, {}) for line in text.splitlines()
                if "apt-get install" in line]
    assert installs, "the linux job installs nothing with apt-get"
    missing = WINDOWS_WHEEL_PACKAGES - set(installs[0])
    assert not missing, f"the linux job does not install {sorted(missing)}"


def check_windows_recipe_and_prompt(doc):
    job = doc["jobs"]["windows"]
    assert job["runs-on"] == "windows-latest"
    (setup,) = using(job, "actions/setup-python")
    (prompt,) = using(job, "ilammy/msvc-dev-cmd")
    assert setup["with"]["architecture"] == "${{ matrix.architecture }}"
    assert prompt["with"]["arch"] == "${{ matrix.dev-prompt }}"
    declared = {name.lower() for name in declared_parameters(RECIPE.read_bytes())}
    native, _ = linux_wheels(doc)
    release = load_table().resolve(native.openssl)
    built = set()
    for entry in entries(job):
        arch = next(a for a in ARCHITECTURES.values()
                    if a.windows and a.windows.msvc_arch == entry["architecture"])
        assert entry["dev-prompt"] == dev_prompt_arch(arch.name), \
            f"{entry['architecture']}: developer prompt {entry['dev-prompt']}"
        (call,) = recipe_calls(job, entry)
        undeclared = [name for name in call if name.lower() not in declared]
        assert not undeclared, f"build_openssl.ps1 declares no {undeclared}"
        assert call["Target"] == arch.windows.msvc_openssl_target, \
            f"{entry['architecture']}: -Target {call['Target']}"
        assert (call["Version"], call["Sha256"]) == (release.version, release.sha256), \
            f"-Version {call['Version']} -Sha256 {call['Sha256']}"
        # The prefix is checked, then uploaded.
        prefix = call["Prefix"]
        assert any(prefix in text and all(part in text for part in PREFIX_HOLDS)
                   for text in runs(job, entry) if "build_openssl.ps1" not in text), \
            f"no step checks that {prefix} holds {', '.join(PREFIX_HOLDS)}"
        uploads = [step["with"]["path"] for step in using(job, "actions/upload-artifact")]
        assert uploads[0] == f"{prefix}/", f"the windows job uploads {uploads}"
        built.add(arch.name)
    assert built == {"x86_64", "i686"}


def check_windows_runs_the_linux_wheel(doc):
    linux, job = doc["jobs"]["linux"], doc["jobs"]["windows"]
    needs = job.get("needs", [])
    assert "linux" in ([needs] if isinstance(needs, str) else needs), \
        "the windows job does not wait for the linux job's wheels"
    _, wheel = linux_wheels(doc)
    arch = windows_architecture(wheel.plat)
    (upload,) = using(linux, "actions/upload-artifact")
    name = tomllib.loads((ROOT / wheel.target / "pyproject.toml").read_text())["project"]["name"]
    ran = []
    for entry in entries(job):
        downloads = [step for step in steps_for(job, entry)
                     if step.get("uses", "").startswith("actions/download-artifact@")]
        if not downloads:
            continue
        ran.append(entry["architecture"])
        (download,) = downloads
        assert download["with"]["name"] == upload["with"]["name"]
        # A cpXY wheel installs only into CPython X.Y.
        assert _cp_tag(python_version(job)) == _cp_tag(python_version(linux)), \
            f"the {entry['architecture']} job's CPython {python_version(job)} cannot install " \
            f"a {_cp_tag(python_version(linux))} wheel"
        texts = runs(job, entry)
        (install,) = lines_starting(texts, "./venv/Scripts/python -m pip")
        # Only the downloaded wheels, never the package index.
        only_these = ["install", "--no-index", "--find-links", download["with"]["path"], name]
        assert install[-5:] == only_these, f"installs with {shlex.join(install)}"
        (probe,) = lines_starting(texts, "./venv/Scripts/python -c")
        for claim in (f"startswith('OpenSSL {wheel.openssl} ')",
                      f"sha256(b'abc').hex(); assert d == '{hashlib.sha256(b'abc').hexdigest()}'"):
            assert claim in probe[-1], f"the installed wheel is not checked for {claim}"
    assert ran == [arch.windows.msvc_arch], \
        f"the {wheel.plat} wheel is run by the {ran} jobs, not the {arch.windows.msvc_arch} one"


def check_macos_runs_the_linux_wheels(doc):
    linux, job = doc["jobs"]["linux"], doc["jobs"]["macos"]
    assert job["runs-on"] == "macos-14", f"the macos job runs on {job['runs-on']}"
    needs = job.get("needs", [])
    assert "linux" in ([needs] if isinstance(needs, str) else needs), \
        "the macos job does not wait for the linux job's wheels"
    (upload,) = using(linux, "actions/upload-artifact")
    paths = {path: version for version, path in
             ((s["with"]["python-version"], PYTHON_PATH.format(version=s["with"]["python-version"]))
              for s in using(linux, "actions/setup-python"))}
    built = {}
    for args in macos_wheels(doc):
        # macos-14 is Apple silicon: every wheel must hold an arm64 slice.
        assert any(a.name == "aarch64" for a in macos_tag(args.plat).arches), \
            f"a {args.plat} wheel cannot run on the arm64 macos job"
        built[_cp_tag(paths[args.python[0]])] = args
    assert built, "the linux job builds no macOS wheel"
    ran = set()
    for entry in entries(job):
        version = python_version(job, entry)
        assert _cp_tag(version) in built, \
            f"the macos job's CPython {version} cannot install a {sorted(built)} wheel"
        ran.add(_cp_tag(version))
        (download,) = [step for step in steps_for(job, entry)
                       if step.get("uses", "").startswith("actions/download-artifact@")]
        assert download["with"]["name"] == upload["with"]["name"]
        texts = runs(job, entry)
        name = tomllib.loads((ROOT / built[_cp_tag(version)].target / "pyproject.toml")
                             .read_text())["project"]["name"]
        (install,) = lines_starting(texts, "./venv/bin/python -m pip")
        only_these = ["install", "--no-index", "--find-links", download["with"]["path"], name]
        assert install[-5:] == only_these, f"installs with {shlex.join(install)}"
        (probe,) = lines_starting(texts, "./venv/bin/python -c")
        for claim in ("startswith('OpenSSL 3.0.22 ')",
                      f"sha256(b'abc').hex(); assert d == '{hashlib.sha256(b'abc').hexdigest()}'"):
            assert claim in probe[-1], f"the installed wheel is not checked for {claim}"
        assert lines_starting(texts, "codesign --verify"), "no signature is verified"
    assert ran == set(built), f"the macos job runs {sorted(ran)}, not {sorted(built)}"


def _cp_tag(version):
    return "cp" + "".join(version.split(".")[:2])


# setup-python's architecture -> the sysconfig platform of the CPython it installs.
SETUP_PYTHON_PLATFORM = {"x64": "win-amd64", "x86": "win32", "arm64": "win-arm64"}


def check_native_builds(doc):
    """The windows and macos jobs run the builder natively, each command for a platform its
    runner builds (builder.target.native_target) and its interpreter runs: Windows wheels of
    the job's CPython architecture in the developer prompt for it; macOS wheels holding the
    arm64 runner's own slice."""
    for name, os_name, machine in (("windows", "windows", "AMD64"), ("macos", "macos", "arm64")):
        job = doc["jobs"][name]
        for entry in entries(job):
            commands = builder_commands(job, entry)
            assert commands, f"the {name} job does not run the builder natively"
            interpreter = SETUP_PYTHON_PLATFORM.get(str(entry.get("architecture", "x64")))
            for args in commands:
                try:
                    target = native_target(os_name, args.plat, machine, str(interpreter))
                except InputError as refused:
                    raise AssertionError(f"{name}: {refused.message}") from None
                if os_name == "windows":
                    assert target.arch.windows.sysconfig_platform == interpreter, \
                        f"{entry['architecture']}: builds {target.plat} with a {interpreter} " \
                        f"CPython"
                    assert dev_prompt_arch(target.arch.name) == entry["dev-prompt"], \
                        f"{entry['architecture']}: {target.plat} in the " \
                        f"{entry['dev-prompt']} developer prompt"


CHECKS = [check_every_builder_command, check_linux_job, check_windows_recipe_and_prompt,
          check_windows_runs_the_linux_wheel, check_macos_runs_the_linux_wheels,
          check_native_builds]


def test_the_workflow_is_valid_yaml_with_a_linux_a_windows_and_a_macos_job():
    assert set(workflow()["jobs"]) == {"linux", "windows", "macos"}


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_workflow_passes_each_check(check):
    check(workflow())


def test_the_recipe_parameters_are_read_from_its_param_block():
    assert declared_parameters(b"# param($Not)\nparam(\n  [string]$Version = '',\n"
                               b"  [string[]]$Mirror = @(),\n  [switch]$NoNamespace\n)\n"
                               b"$Other = 1\n") == ["Version", "Mirror", "NoNamespace"]
    assert {"Version", "Prefix", "Target", "Sha256"} <= set(
        declared_parameters(RECIPE.read_bytes()))


# Broken copies of the workflow: (what is broken, the change, the check that must refuse it,
# what its message says).

def _step(doc, job, action=None, containing=None):
    for step in doc["jobs"][job]["steps"]:
        if action and step.get("uses", "").startswith(f"{action}@"):
            return step
        if containing and containing in step.get("run", ""):
            return step
    raise LookupError(f"{job}: no step {action or containing}")


def _entry(doc, architecture):
    return next(entry for entry in doc["jobs"]["windows"]["strategy"]["matrix"]["include"]
                if entry["architecture"] == architecture)


def _replace_in_run(job, containing, old, new):
    def change(doc):
        step = _step(doc, job, containing=containing)
        assert old in step["run"]
        step["run"] = step["run"].replace(old, new)
    return change


def _set(where, key, value):
    def change(doc):
        where(doc)[key] = value
    return change


def _conditions(condition):
    def change(doc):
        for step in doc["jobs"]["windows"]["steps"]:
            if "if" in step:
                step["if"] = condition
    return change


BROKEN = [
    ("an option the builder does not know",
     _replace_in_run("linux", "--plat win_amd64", "--plat", "--platform"),
     check_every_builder_command, "unrecognized arguments"),
    ("a builder command with no --python",
     _replace_in_run("linux", "builder wheel scrypt",
                     ' --python "${{ steps.python.outputs.python-path }}"', ""),
     check_every_builder_command, "--python"),
    ("an expression naming no step",
     _replace_in_run("linux", "builder wheel scrypt", "steps.python.", "steps.py."),
     check_every_builder_command, "unknown expression"),
    ("no Windows wheel from Linux",
     _replace_in_run("linux", "--plat win_amd64", " --plat win_amd64", ""),
     check_linux_job, "not one wheel for this host and one for Windows"),
    ("a Windows CPython that is not pinned",
     _set(lambda doc: next(step for step in doc["jobs"]["linux"]["steps"]
                           if step.get("id") == "python")["with"], "python-version", "3.11"),
     check_linux_job, "no Windows CPython 3.11 is pinned"),
    ("no osslsigncode",
     _replace_in_run("linux", "apt-get install", " osslsigncode", ""),
     check_linux_job, "osslsigncode"),
    ("x86 in the x64 developer prompt",
     _set(lambda doc: _entry(doc, "x86"), "dev-prompt", "amd64"),
     check_windows_recipe_and_prompt, "x86: developer prompt amd64"),
    ("x86 configured for x64",
     _set(lambda doc: _entry(doc, "x86"), "target", "VC-WIN64A"),
     check_windows_recipe_and_prompt, "x86: -Target VC-WIN64A"),
    ("a parameter the recipe does not declare",
     _replace_in_run("windows", "build_openssl.ps1", "-Target", "-Arch x64 -Target"),
     check_windows_recipe_and_prompt, r"declares no \['Arch'\]"),
    ("another tarball's sha256",
     _replace_in_run("windows", "build_openssl.ps1", "-Sha256 67eb", "-Sha256 77eb"),
     check_windows_recipe_and_prompt, "-Sha256 77eb"),
    ("another prefix uploaded than built",
     _set(lambda doc: _step(doc, "windows", "actions/upload-artifact")["with"], "path",
          "openssl/"),
     check_windows_recipe_and_prompt, "uploads"),
    ("the prefix not checked",
     _replace_in_run("windows", "opensslv.h -Pattern", "lib/libssl.lib", "lib/ssl.lib"),
     check_windows_recipe_and_prompt, "no step checks that openssl-msvc holds"),
    ("a windows job that does not wait for the wheels",
     lambda doc: doc["jobs"]["windows"].pop("needs"),
     check_windows_runs_the_linux_wheel, "does not wait"),
    ("a CPython of another version than the wheel's",
     _set(lambda doc: _step(doc, "windows", "actions/setup-python")["with"], "python-version",
          "3.12"),
     check_windows_runs_the_linux_wheel, "3.12 cannot install a cp313 wheel"),
    ("the win_amd64 wheel run in the x86 job",
     _conditions("matrix.architecture == 'x86'"),
     check_windows_runs_the_linux_wheel, r"by the \['x86'\] jobs"),
    ("a condition the test cannot read",
     _conditions("matrix.architecture != 'x86'"),
     check_windows_runs_the_linux_wheel, "unknown condition"),
    ("the package index allowed",
     _replace_in_run("windows", "pip install", "--no-index ", ""),
     check_windows_runs_the_linux_wheel, "installs with"),
    ("a wrong digest expected",
     _replace_in_run("windows", "sha256(b'abc')", "'ba7816bf", "'ca7816bf"),
     check_windows_runs_the_linux_wheel, "not checked for sha256"),
    ("another OpenSSL expected",
     _replace_in_run("windows", "sha256(b'abc')", "OpenSSL 3.0.22 ", "OpenSSL 3.0.21 "),
     check_windows_runs_the_linux_wheel, "not checked for startswith"),
    ("a macOS build not let end with exit 3",
     _replace_in_run("linux", "--plat macosx_11_0_arm64", " || test $? -eq 3", ""),
     check_linux_job, "a macOS build must be let end with exit 3"),
    ("a runnable build let end with exit 3",
     _replace_in_run("linux", "--plat win_amd64", "openssl_version",
                     "openssl_version || test $? -eq 3"),
     check_linux_job, "a runnable build must not be let end"),
    ("an x86_64-only wheel for the arm64 runner",
     _replace_in_run("linux", "--plat macosx_11_0_arm64", "macosx_11_0_arm64",
                     "macosx_10_13_x86_64"),
     check_macos_runs_the_linux_wheels, "cannot run on the arm64 macos job"),
    ("a macOS CPython no wheel was built for",
     lambda doc: doc["jobs"]["macos"]["strategy"]["matrix"]["include"][1].update(
         {"python-version": "3.11"}),
     check_macos_runs_the_linux_wheels, "3.11 cannot install"),
    ("a native Windows wheel for another architecture than the job's CPython",
     _replace_in_run("windows", "builder wheel scrypt", "--openssl 3.0.22",
                     "--openssl 3.0.22 --plat win_amd64"),
     check_native_builds, "x86: builds win_amd64 with a win32 CPython"),
    ("a native macOS wheel the arm64 runner cannot run",
     _replace_in_run("macos", "--plat macosx_10_13_universal2", "universal2", "x86_64"),
     check_native_builds, "holds no arm64 slice"),
    ("a manylinux wheel asked of a Mac",
     _replace_in_run("macos", "--plat macosx_10_13_universal2", "macosx_10_13_universal2",
                     "manylinux2014_x86_64"),
     check_native_builds, "not built on a Mac"),
    ("no signature verified",
     _replace_in_run("macos", "codesign", "codesign --verify --verbose", "ls"),
     check_macos_runs_the_linux_wheels, "no signature is verified"),
]


@pytest.mark.parametrize("change, check, message", [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
def test_a_broken_workflow_fails_its_check(change, check, message):
    doc = copy.deepcopy(workflow())
    change(doc)
    with pytest.raises(AssertionError, match=message):
        check(doc)
