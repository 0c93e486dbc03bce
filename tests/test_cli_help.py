"""Every command's --help says what each option does, its default and its choices, and ends
with an example (issue 10.7)."""

import argparse

import pytest

from memtui.cli import build_parser
from tests.cli_helpers import run_memtui


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {"memtui": parser, **commands.choices}


def documented(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)]


def shown_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The action's help as --help prints it (%(default)s and the like filled in)."""
    return parser._get_formatter()._expand_help(action)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_option_says_what_it_does_its_default_and_choices(name):
    parser = subcommands()[name]
    for action in documented(parser):
        text = shown_help(parser, action) if action.help else ""
        assert len(text.split()) >= 4, (name, action.dest)
        if action.option_strings and not isinstance(action, argparse._VersionAction):
            assert "default: " in text, (name, action.dest, text)
        for choice in action.choices or ():
            assert str(choice) in text, (name, action.dest, choice)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_help_ends_with_an_example(name):
    parser = subcommands()[name]
    lines = parser.format_help().rstrip().splitlines()
    example = lines.index("example:")
    command = "" if name in ("memtui", "monitor") else f"{name}"
    assert lines[example + 1].strip().startswith(f"memtui {command}")
    if name != "memtui":  # the overview's usage lines are the contract's, as DESIGN.md has them
        assert max(len(line) for line in lines) <= 80, name


def test_help_of_the_commands_a_user_meets_first():
    result = run_memtui("diff", "--help")
    assert result.returncode == 0
    assert "(choices: class, count_before," in " ".join(result.stdout.split())
    assert "default: size_delta" in " ".join(result.stdout.split())
    assert "example:\n  memtui diff " in result.stdout
