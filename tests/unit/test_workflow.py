"""The GitHub Actions workflow (.github/workflows/wheels.yml) is valid YAML, and every builder
command it runs is one the builder's own parser accepts, for each entry of each job's matrix.
Windows' developer prompt and Python agree with the architecture table."""

import re
import shlex

import pytest

from builder.architectures import ARCHITECTURES
from builder.cli import build_parser
from builder.platforms.msvc import dev_prompt_arch
from tests.conftest import ROOT

yaml = pytest.importorskip("yaml")

WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def jobs():
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]


def runs(job):
    """(matrix entry, [run text with its expressions filled in]) for each matrix entry."""
    setup_python = {step["id"] for step in job["steps"]
                    if step.get("uses", "").startswith("actions/setup-python@") and "id" in step}
    for entry in job.get("strategy", {}).get("matrix", {}).get("include", [{}]):
        def fill(match):
            name = match.group(1)
            if name.startswith("matrix."):
                return str(entry[name[len("matrix."):]])
            step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.python-path", name)
            assert step and step.group(1) in setup_python, f"unknown expression {name}"
            return "C:/hostedtoolcache/Python/3.12/python.exe"
        yield entry, [EXPRESSION.sub(fill, step["run"]) for step in job["steps"] if "run" in step]


def builder_commands(texts):
    """The arguments after `python -m builder` of each command in `texts`."""
    for text in texts:
        for line in text.replace("\\\n", " ").splitlines():
            words = shlex.split(line)
            if words[:3] == ["python", "-m", "builder"]:
                yield words[3:]


@pytest.mark.parametrize("name", ["windows", "linux"])
def test_each_job_installs_the_project_and_runs_a_builder_command_its_parser_accepts(name):
    job = jobs()[name]
    for entry, texts in runs(job):
        assert texts[0] == "python -m pip install ."
        commands = list(builder_commands(texts))
        assert commands, f"{name} {entry} runs no builder command"
        for argv in commands:
            args = build_parser().parse_args(argv)
            assert args.command == "wheel" and args.openssl == "3.0.22" and args.python
            # The artifact is the builder's wheelhouse.
            uploads = [step["with"]["path"] for step in job["steps"]
                       if step.get("uses", "").startswith("actions/upload-artifact@")]
            assert uploads == [f"{args.wheelhouse}/"]


def test_windows_builds_each_python_architecture_in_the_developer_prompt_for_it():
    job = jobs()["windows"]
    assert job["runs-on"] == "windows-latest"
    setup = next(step for step in job["steps"]
                 if step.get("uses", "").startswith("actions/setup-python@"))
    prompt = next(step for step in job["steps"]
                  if step.get("uses", "").startswith("ilammy/msvc-dev-cmd@"))
    assert setup["with"]["architecture"] == "${{ matrix.architecture }}"
    assert prompt["with"]["arch"] == "${{ matrix.dev-prompt }}"
    built = set()
    for entry, texts in runs(job):
        arch = next(a for a in ARCHITECTURES.values()
                    if a.windows and a.windows.msvc_arch == entry["architecture"])
        assert entry["dev-prompt"] == dev_prompt_arch(arch.name)
        (argv,) = builder_commands(texts)
        plat = build_parser().parse_args(argv).plat
        # x64 is the runner's own platform; any other is asked for by its tag.
        assert plat == (None if arch.name == "x86_64" else arch.windows.plat)
        built.add(arch.name)
    assert built == {"x86_64", "i686"}

