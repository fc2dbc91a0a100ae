"""The command references say what the program does: docs/commands.md against
the `wq` CLI (every command, every option, the exit codes), docs/slurm.md
against the Slurm shims (their options and exit codes)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from wq.cli.main import cli
from wq.slurm import sbatch

ROOT = Path(__file__).parents[1]
COMMANDS = (ROOT / "docs" / "commands.md").read_text()
SLURM = (ROOT / "docs" / "slurm.md").read_text()
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][A-Za-z0-9-]*)")


def leaves() -> Iterator[tuple[list[str], click.Command]]:
    ctx = click.Context(cli)

    def walk(command: click.Command, path: list[str]) -> Iterator[tuple[list[str],
                                                                        click.Command]]:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                found = command.get_command(ctx, name)
                assert found is not None
                yield from walk(found, [*path, name])
        else:
            yield path, command
    return walk(cli, [])


def sections(text: str, marker: str) -> dict[str, str]:
    """Each `## ...` section by its heading (after `marker`)."""
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {part.split("\n", 1)[0].removeprefix(marker): part for part in parts}


def section_of(path: list[str]) -> tuple[str, str]:
    """The heading (its synopsis) and the whole section documenting `wq PATH`."""
    for heading, body in sections(COMMANDS, "wq ").items():
        words = heading.split()
        if len(words) >= len(path) and all(w in words[i].split("|")
                                            for i, w in enumerate(path)):
            return heading, body
    raise AssertionError(f"docs/commands.md has no section for wq {' '.join(path)}")


def options(command: click.Command) -> set[str]:
    return {o for forms in spellings(command) for o in forms}


def spellings(command: click.Command) -> list[set[str]]:
    """Each option's forms (-b, --batch)."""
    return [set(p.opts) | set(p.secondary_opts) for p in command.params
            if isinstance(p, click.Option) and "--help" not in p.opts]


@pytest.mark.parametrize("path, command", list(leaves()), ids=lambda v: " ".join(v)
                         if isinstance(v, list) else "")
def test_every_command_and_option_is_documented_as_it_is(path: list[str],
                                                         command: click.Command) -> None:
    heading, body = section_of(path)
    synopsis = re.sub(r"\(also [^)]*\)", "", heading)       # (another command's form)
    named = set(OPTION.findall(synopsis))
    assert named <= options(command), \
        f"wq {' '.join(path)}: the synopsis names {sorted(named - options(command))}"
    said = set(OPTION.findall(body))
    missing = [sorted(forms) for forms in spellings(command) if not forms & said]
    assert not missing, f"wq {' '.join(path)}: {missing} are not documented"


def exit_codes(paths: list[Path]) -> set[int]:
    """Every exit code the code names: sys.exit(N), exit_code = N, X_EXIT = N."""
    found: set[int] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            value = None
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "exit" \
                    and node.args:
                value = node.args[0]
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and (t.id == "exit_code" or t.id.endswith("_EXIT"))
                    or isinstance(t, ast.Name) and t.id == "code"
                    for t in node.targets):
                value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, int):
                found.add(value.value)
    return found


def table_codes(text: str) -> set[int]:
    """The single codes of a `| code | meaning |` table (not ranges)."""
    return {int(c) for c in re.findall(r"^\| ([0-9]+) \|", text, flags=re.M)}


def test_the_exit_code_table_is_every_code_wq_exits_with() -> None:
    sources = [ROOT / "wq" / "errors.py", *(ROOT / "wq" / "cli").glob("*.py")]
    assert exit_codes(sources) == table_codes(COMMANDS)


def test_the_slurm_exit_code_table_is_every_code_the_shims_exit_with() -> None:
    from wq.cli.wait import JOB_TIMEOUT_EXIT        # (sbatch -W exits as wq wait, no -t)

    sources = [ROOT / "wq" / "errors.py", *(ROOT / "wq" / "slurm").glob("*.py")]
    table = SLURM[SLURM.index("**Exit codes.**"):]
    assert exit_codes(sources) | {JOB_TIMEOUT_EXIT} == \
        table_codes(table[:table.index("\n\n", 20)])


def sbatch_section() -> str:
    return sections(SLURM, "")["sbatch"]


def spelled(table: dict[str, tuple[str | None, bool]] | dict[str, str]) -> set[str]:
    out = set()
    for name, value in table.items():
        out.add(f"-{name}" if len(name) == 1 else f"--{name}")
        if isinstance(value, tuple) and value[0]:
            out.add(f"-{value[0]}")
    return out


def test_sbatch_takes_ignores_and_refuses_what_docs_slurm_says() -> None:
    text = sbatch_section()
    table = text[text.index("| sbatch | wq |"):text.index("\nIgnored")]
    ignored = text[text.index("\nIgnored"):text.index("Refused")]
    refused = text[text.index("Refused"):text.index("\n\n", text.index("Refused"))]
    taken = spelled(sbatch.TAKEN)
    assert set(OPTION.findall(table)) <= taken
    said = set(OPTION.findall(text))
    missing = [name for name in sbatch.TAKEN if not spelled({name: sbatch.TAKEN[name]}) & said]
    assert not missing, f"sbatch options not in docs/slurm.md: {missing}"
    assert set(OPTION.findall(ignored)) <= spelled(sbatch.IGNORED)
    assert set(OPTION.findall(refused)) <= spelled(sbatch.REFUSED)


@pytest.mark.parametrize("name", ["squeue", "sacct", "scancel", "sinfo"])
def test_each_query_shim_takes_the_options_docs_slurm_names_and_no_other(name: str) -> None:
    shown = subprocess.run([sys.executable, "-m", "wq.slurm", name, "--help"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    # each option a line of argparse's help: "  -j JOBS, --jobs JOBS"
    forms = [{word.split()[0] for word in line.strip().split(", ")}
             for line in shown.stdout.split("options:", 1)[1].splitlines()
             if line.startswith("  -") and "--help" not in line]
    text = next(body for heading, body in sections(SLURM, "").items()
                if name in re.split(r"[ ,]+", heading))
    if name == "sinfo":
        text = text[text.index("`sinfo`"):text.index("\n- `sacctmgr")]
    said = set(OPTION.findall(text))
    takes = {form for option in forms for form in option}
    assert said <= takes, f"{name}: docs/slurm.md names {sorted(said - takes)}"
    missing = [sorted(option) for option in forms if not option & said]
    assert not missing, f"{name}: {missing} are not in docs/slurm.md"


def test_each_row_of_the_labs_threat_model_names_tests_that_exist():
    text = (ROOT / "docs" / "lab.md").read_text()
    table = text[text.index("## Threat model"):text.index("## From another machine")]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 10
    for row in rows[1:]:
        named = re.findall(r"`(tests/[\w/]+\.py|test_\w+\.py)(?:::(\w+))?`",
                           row.split("|")[-2])
        assert named, row
        for path, test in named:
            where = ROOT / (path if path.startswith("tests/") else f"tests/integration/{path}")
            assert where.exists(), path
            if test:
                assert f"def {test}(" in where.read_text(), (path, test)
