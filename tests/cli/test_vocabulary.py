"""One vocabulary across the CLI (issue 24, item 2): every command that reads or writes a results
store takes `--store PATH`, a model is `-m/--model`, a strategy `-s/--strategy NAME[:P=V,…]`,
`--json` is a flag, `--max-tokens` has one default; the same flag is explained the same way
everywhere, and no `--help` shows a flag as taking a `<bool>`."""

from __future__ import annotations

import json
import re

import pytest
import typer
from typer.testing import CliRunner

from thinktime.bench.configs import split_config, split_items
from thinktime.cli import app
from thinktime.cli.common import (
    DEFAULT_MAX_TOKENS,
    JSON_HELP,
    MAX_TOKENS_HELP,
    MODEL_HELP,
    STORE_HELP,
    STRATEGY_HELP,
)

runner = CliRunner()


def _walk(command, path=()):  # type: ignore[no-untyped-def]
    """(path, command) for the root, every group and every command under it."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


ROOT = typer.main.get_command(app)
ALL = dict(_walk(ROOT))
COMMANDS = {" ".join(path): c for path, c in ALL.items() if not hasattr(c, "commands")}


def _options(command):  # type: ignore[no-untyped-def]
    return [p for p in command.params if p.param_type_name == "option"]


def _option(command, flag):  # type: ignore[no-untyped-def]
    found = [p for p in _options(command) if flag in (*p.opts, *p.secondary_opts)]
    return found[0] if found else None


# the flags this vocabulary replaced, and the names it keeps out; (command, flag) exceptions
BANNED = {"--config", "--results", "--results-file", "--bench", "--db", "--teacher", "--student",
          "--policy", "--base", "--pool", "--file", "--out-store"}  # fmt: skip
ALLOWED = {
    ("distill eval", "--student"), ("distill eval", "--base"), ("distill eval", "--teacher"),
    ("serve", "--policy"),  # the server's policy file (docs/security.md), not a model
}  # fmt: skip
# the models and strategies in roles, beside `-m`/`-s`: distill eval compares three models
ROLE_FLAGS = {("distill eval", "--teacher-strategy")}

STORE_COMMANDS = {"bench", "report", "replay", "view", "export", "fit-route", "plan estimate",
                  "distill traces", "distill eval"}  # fmt: skip
STORE_REQUIRED = {"report", "replay", "fit-route", "export"}
JSON_COMMANDS = {"solve", "models", "strategies", "bench", "report", "replay", "fit-route",
                 "plan estimate"}  # fmt: skip
MAX_TOKENS_COMMANDS = {"solve", "bench", "distill traces", "distill eval"}
POSITIONALS = {"solve": ["question"], "plan estimate": ["workload"]}


def test_the_walk_sees_every_command():
    assert set(COMMANDS) == {
        "solve", "models", "strategies", "bench", "report", "replay", "fit-route", "view", "export",
        "serve",
        "plan estimate", "plan calibrate", "distill traces", "distill train", "distill grpo",
        "distill eval",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_speaks_the_vocabulary(name):
    command = COMMANDS[name]
    arguments = [p.name for p in command.params if p.param_type_name == "argument"]
    assert arguments == POSITIONALS.get(name, []), "a store (or anything else) as a positional"
    for option in _options(command):
        flags = {*option.opts, *option.secondary_opts}
        for flag in flags & BANNED:
            assert (name, flag) in ALLOWED, f"{name} {flag}: use the shared vocabulary"
        help_text = option.help or ""
        if option.name in {"store", "stores", "results", "bench", "db"} or "sqlite" in (
            help_text.lower()
        ):
            assert flags == {"--store"}, f"{name}: a store is --store, got {flags}"
        if "--store" in flags:
            assert help_text == STORE_HELP or help_text.startswith(STORE_HELP + " "), name
        if flags & {"--model", "-m"}:
            assert flags == {"--model", "-m"}, f"{name}: {flags}"
            assert help_text == MODEL_HELP or help_text.startswith(MODEL_HELP + " "), name
        if flags & {"--strategy", "-s"}:
            assert flags == {"--strategy", "-s"}, f"{name}: {flags}"
            assert help_text == STRATEGY_HELP or help_text.startswith(STRATEGY_HELP + " "), name
        for flag in flags - {"--strategy", "--model"}:  # a model or strategy in a role
            if flag.endswith(("-strategy", "-model", "-config")):
                assert (name, flag) in ROLE_FLAGS, f"{name} {flag}"
        if "--json" in flags:
            assert option.is_flag and not option.secondary_opts and help_text == JSON_HELP
        if "--max-tokens" in flags:
            assert option.default == DEFAULT_MAX_TOKENS == 1024 and help_text == MAX_TOKENS_HELP
    store = _option(command, "--store")
    assert (store is not None) == (name in STORE_COMMANDS), name
    if store is not None:
        assert store.required == (name in STORE_REQUIRED), name
        assert store.multiple == (name == "view"), name  # the viewer opens several
    assert (_option(command, "--json") is not None) == (name in JSON_COMMANDS), name
    assert (_option(command, "--max-tokens") is not None) == (name in MAX_TOKENS_COMMANDS), name


def test_every_option_shared_by_name_has_one_meaning():
    """A flag several commands take is explained the same way in each (a sentence may follow:
    its default there, or its role)."""
    helps: dict[str, set[str]] = {}
    for command in COMMANDS.values():
        for option in _options(command):
            for flag in option.opts:
                helps.setdefault(flag, set()).add(option.help or "")
    bases = {"--store": STORE_HELP, "--model": MODEL_HELP, "--strategy": STRATEGY_HELP,
             "--json": JSON_HELP, "--max-tokens": MAX_TOKENS_HELP}  # fmt: skip
    for flag, base in bases.items():
        assert all(h == base or h.startswith(base + " ") for h in helps[flag]), helps[flag]
    assert helps["--json"] == {JSON_HELP} and helps["--max-tokens"] == {MAX_TOKENS_HELP}


@pytest.mark.parametrize("path", sorted(ALL, key=len))
def test_no_help_shows_a_flag_taking_a_bool(path):
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "Usage:" in result.output
    assert not re.search(r"--[\w-]+\s+<bool>", result.output)
    if path and path[-1] in {"solve", "bench", "report", "models"}:  # a flag: its help next
        assert re.search(r"--json +Print the result as JSON", result.output), result.output


def test_config_items_split_outside_json():
    assert split_items('n=2,stop=["a,b"],x={"k": [1, 2]}') == [
        "n=2",
        'stop=["a,b"]',
        'x={"k": [1, 2]}',
    ]
    assert split_items(r'note="a \"b, c\"",n=3') == [r'note="a \"b, c\""', "n=3"]
    assert split_config('foo:stop=["a,b"],n=2') == ("foo", {"stop": ["a,b"], "n": 2})
    assert split_config("cot") == ("cot", {})


SOLVE = ["solve", "2+2?", "-m", "fake", "--json"]


def test_solve_takes_the_config_syntax():
    result = runner.invoke(app, [*SOLVE, "-s", 'self_consistency:n=3,stop=["a,b"]'])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["strategy"] == "self_consistency" and len(answer["samples"]) == 3
    merged = runner.invoke(app, [*SOLVE, "-s", "self_consistency:n=2", "-p", "temperature=0.1"])
    assert merged.exit_code == 0, merged.output
    assert len(json.loads(merged.stdout)["samples"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "self_consistency:n=2", "-p", "n=3"], "n given twice"),
        (["-s", "self_consistency:n=2", "-n", "3"], "n given twice"),
        (["-s", "cot:temperature=0.2", "--temperature", "0.3"], "temperature given twice"),
        (["-s", "cot:max_tokens=9", "--max-tokens", "9"], "max_tokens given twice"),
        (["-s", "self_consistency:16"], "write STRATEGY:NAME=VALUE"),
        (["-s", "cot:verifier=prm"], "verifier is not a strategy parameter; use --verifier"),
    ],
)
def test_solve_refuses_a_parameter_given_twice(args, message):
    result = runner.invoke(app, [*SOLVE, *args])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bench_prints_json(tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "q?", "answer": "42"}\n{"question": "r?", "answer": "7"}\n')
    store = tmp_path / "qa.db"
    args = ["bench", "--task", f"jsonl:{data}", "-m", "fake", "--store", str(store), "--json"]
    result = runner.invoke(app, [*args, "-s", "cot", "-s", "self_consistency:n=2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert {r["config"] for r in report["results"]} == {"cot", "self_consistency:n=2"}
    assert report["store"] == str(store) and report["report"] == str(store.with_suffix(".html"))
    assert {"paired", "points", "matched", "cpu_overhead"} <= set(report)
