"""The project's promises about itself: public names, README commands, environment variables."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import livebar
from livebar import _defaults

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def setup_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block is not None, "the README opens with a sh block of set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_all_is_sorted_and_every_name_resolves() -> None:
    """`livebar.__all__` is one sorted list, and every name in it can be imported."""
    assert sorted(livebar.__all__) == livebar.__all__
    for name in livebar.__all__:
        assert getattr(livebar, name) is not None, name


def test_readme_opens_with_the_two_setup_commands() -> None:
    """Exactly two commands: the demo on the simulator, then the tests."""
    first_block_at = README.index("```")
    assert README.index("```sh") == first_block_at
    demo, tests = setup_commands()
    assert demo.endswith("livebar demo")
    assert tests.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs the README's test command, character for character."""
    _, tests = setup_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()


def test_every_environment_variable_is_in_the_readme() -> None:
    """Each variable livebar reads is documented."""
    names = [value for key, value in vars(_defaults).items() if key.startswith("ENV_")]
    assert names
    for name in names:
        assert f"`{name}`" in README, name


def test_the_readme_lists_every_option_of_an_activity() -> None:
    """The README's option list is the options TypedDict's, no more and no less."""
    from livebar._job.options import ActivityOptions, option_names

    start = README.index("Options (all keyword-only):")
    paragraph = README[start : README.index("\n\n", start)]
    listed = set(re.findall(r"`(\w+)(?:=[^`]*)?`", paragraph))
    assert sorted(option_names(ActivityOptions)) == sorted(listed)


def test_import_is_cheap() -> None:
    """`import livebar` loads neither httpx nor tqdm (they load when a job needs them)."""
    code = (
        "import sys, livebar; "
        "print(sorted(m for m in ('httpx', 'tqdm', 'anyio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "[]" == out.stdout.strip()
