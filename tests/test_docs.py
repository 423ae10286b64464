"""Every code block of README.md and docs/**/*.md runs, or is parsed, here (Sybil).

One test per fenced block, named `PAGE:LINE`; the blocks of a page share one namespace and one
working directory (a fresh temporary folder), in page order.

- ```python runs (the scripted model: `model="fake"` or a `FakeBackend`).
- ```console: each `$ ` line (with `\\` continuations) is a command; the lines after it are
  output and are not compared. ```bash / ```sh: every line is a command.
  A `thinktime …` command runs through `typer.testing.CliRunner` when it is cheap — no model
  (`models`, `strategies`, `--help`, `--version`), the scripted model (`-m fake`), or
  `report` / `replay` / `plan estimate` / `view --export` on stores committed under docs/
  (copied into the working folder first: opening a store read-write migrates it) — and must
  exit 0; a command already run once in the session is only parsed the next time. Any other
  (a real model, serve, distill, `fit-route`'s fit, long sweeps) is parsed without running:
  its click command is resolved and `make_context` checks every flag, argument and value type,
  and each `-s` strategy config is validated. So a renamed flag fails here either way.
  `make X` must name a Makefile target, `python FILE.py` an existing file, `curl … -d BODY`
  valid JSON; `pip`, `vllm`, `ray` … lines are not run.
- ```json must parse, ```jsonl line by line, ```yaml and ```toml too. A block with a
  `title="NAME"` is also written to NAME in the working folder (a task file, a workload) for
  the commands after it.
- ```text is output or a diagram: it may not hold `$ ` commands (write those as ```console).
  A block with no language or another one fails: give it one, or put
  `<!-- skip: next "why" -->` before it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sybil import Document, Example, Sybil
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import SkipParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer
from typer.exceptions import Exit, TyperException

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LANGUAGES = {"python", "console", "bash", "sh", "json", "jsonl", "yaml", "toml", "text"}
RUNNABLE_STORES = {"report", "replay"}  # read a store; cheap on a committed one (fit-route: ~30 s)
RAN: set[tuple[str, ...]] = set()  # commands run once this session: a repeat is parsed only
TITLE = re.compile(r'title="([^"]+)"')


# ---------------------------------------------------------------- parsing the pages


@dataclass
class Block:
    """One fenced block: its language, its `title=` file name (or None), its source."""

    language: str
    title: str | None
    source: Any  # sybil's Lexeme (a str with line offsets), for the Python evaluator


class FencedBlocks:
    """A Sybil parser for every fenced block, whatever its language (none included)."""

    def __init__(self) -> None:
        self.lexer = FencedCodeBlockLexer(
            language=r"[^\n]*", mapping={"language": "info", "source": "source"}
        )

    def __call__(self, document: Document) -> Iterator[Any]:
        for region in self.lexer(document):
            info = region.lexemes["info"].strip()
            language = info.split()[0].lower() if info else ""
            title = TITLE.search(info)
            region.parsed = Block(language, title[1] if title else None, region.lexemes["source"])
            region.evaluator = evaluate_block
            yield region


SYBIL = Sybil(parsers=[FencedBlocks(), SkipParser()], patterns=["*.md"])


# ---------------------------------------------------------------- evaluating a block


def evaluate_block(example: Example) -> None:
    __tracebackhide__ = True
    block: Block = example.parsed
    workdir: Path = example.namespace["__workdir__"]
    if block.title:
        committed = ROOT / block.title
        if committed.is_file():  # a copy of a repository file must say what the file says
            assert str(block.source) == committed.read_text(), (
                f"{block.title} differs from the block"
            )
        (workdir / block.title).parent.mkdir(parents=True, exist_ok=True)
        (workdir / block.title).write_text(str(block.source))
    check = CHECKS.get(block.language)
    if check is None:
        what = f"language {block.language!r}" if block.language else "no language"
        pytest.fail(
            f"a block with {what}: give it one of {sorted(LANGUAGES)}, or put "
            '<!-- skip: next "why" --> before it'
        )
    if block.language == "python":
        example.parsed = block.source  # sybil's evaluator reads the source and its line
        try:
            PythonEvaluator()(example)
        finally:
            example.parsed = block
        return
    check(str(block.source), workdir)


def check_text(source: str, workdir: Path) -> None:
    commands = [line for line in source.splitlines() if line.startswith("$ ")]
    if commands:
        pytest.fail(f"a text block holds a command ({commands[0]!r}): write it as ```console")


def check_console(source: str, workdir: Path) -> None:
    for command in console_commands(source):
        check_command(command, workdir)


def check_shell(source: str, workdir: Path) -> None:
    for command in joined_lines(source.splitlines()):
        check_command(command, workdir)


def console_commands(source: str) -> list[str]:
    """The `$ ` lines of a console block, continuations joined; output lines dropped."""
    lines, taking = [], False
    for line in source.splitlines():
        if line.startswith("$ "):
            lines.append(line[2:])
            taking = line.rstrip().endswith("\\")
        elif taking:
            lines.append(line)
            taking = line.rstrip().endswith("\\")
    return joined_lines(lines)


def joined_lines(lines: list[str]) -> list[str]:
    commands, current = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
        else:
            current += line
            if current.strip() and not current.lstrip().startswith("#"):
                commands.append(current.strip())
            current = ""
    return commands


def check_json(source: str, workdir: Path) -> None:
    json.loads(source)


def check_jsonl(source: str, workdir: Path) -> None:
    for line in filter(str.strip, source.splitlines()):
        json.loads(line)


def check_yaml(source: str, workdir: Path) -> None:
    yaml.safe_load(source)


def check_toml(source: str, workdir: Path) -> None:
    tomllib.loads(source)


CHECKS: dict[str, Callable[[str, Path], None]] = {
    "python": lambda source, workdir: None,  # run by sybil's evaluator above
    "console": check_console,
    "bash": check_shell,
    "sh": check_shell,
    "json": check_json,
    "jsonl": check_jsonl,
    "yaml": check_yaml,
    "toml": check_toml,
    "text": check_text,
}


# ---------------------------------------------------------------- one shell command


def check_command(command: str, workdir: Path) -> None:
    """Each part of a pipeline or list (`|`, `&&`, `;`, `&`) by its program."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError as exc:
        pytest.fail(f"{command!r} is not a valid shell command: {exc}")
    part: list[str] = []
    for word in [*words, ";"]:
        if word in {"|", "||", "&&", ";", "&"}:
            if part:
                check_program(part, workdir)
            part = []
        else:
            part.append(word)


def check_program(words: list[str], workdir: Path) -> None:
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        words = words[1:]  # FOO=bar before the program
    if not words:
        return
    program, args = Path(words[0]).name, words[1:]
    if program == "thinktime":
        check_thinktime(args, workdir)
    elif program == "make":
        targets = makefile_targets()
        for target in (a for a in args if not a.startswith("-") and "=" not in a):
            assert target in targets, f"`make {target}`: no such Makefile target"
    elif re.fullmatch(r"python3?(\.\d+)?", program) and args and args[0].endswith(".py"):
        assert (ROOT / args[0]).is_file(), f"`{' '.join(words)}`: no file {args[0]}"
    elif program == "curl":
        for flag, value in itertools.pairwise(args):
            if flag in {"-d", "--data", "--data-raw", "--json"}:
                try:
                    json.loads(value)
                except json.JSONDecodeError as exc:
                    pytest.fail(f"curl body is not JSON ({exc}): {value}")
    # pip, vllm, ray, export, jq, tail, …: shown, not run


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, re.MULTILINE))


# ---------------------------------------------------------------- `thinktime …`


def cli_app() -> Any:
    from thinktime.cli import app

    return app


def resolve(args: list[str]) -> tuple[Any, list[str], list[str]]:
    """(the click command `args` name — typer's vendored click —, its own arguments, its name
    path)."""
    from typer.main import get_command

    command, path, rest = get_command(cli_app()), ["thinktime"], list(args)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            pytest.fail(
                f"`{' '.join([*path, rest[0]])}`: no such command; "
                f"choose one of {sorted(command.commands)}"
            )
        command, path, rest = sub, [*path, rest[0]], rest[1:]
    return command, rest, path


def parse_thinktime(args: list[str]) -> None:
    """Parse without running: every flag, argument and value type, each `-s` config."""
    command, rest, path = resolve(args)
    name = " ".join(path)
    try:
        with command.make_context(name, list(rest), resilient_parsing=False) as ctx:
            params = dict(ctx.params)
    except Exit:
        return  # --help, --version
    except TyperException as exc:  # typer's click: UsageError, BadParameter, NoSuchOption, …
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        pytest.fail(f"`{name} {shlex.join(rest)}` does not parse: {message}")
    configs = params.get("strategy")
    for config in configs if isinstance(configs, list | tuple) else [configs]:
        if isinstance(config, str):
            from thinktime.bench.configs import parse_config
            from thinktime.errors import ThinktimeError

            try:
                parse_config(config)
            except ThinktimeError as exc:
                pytest.fail(f"`{name}`: -s {config}: {exc}")


def option_values(args: list[str], *names: str) -> list[str]:
    values = []
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                values.append(args[i + 1])
            elif arg.startswith(name + "=") and name.startswith("--"):
                values.append(arg.split("=", 1)[1])
    return values


def cheap(args: list[str]) -> bool:
    """Whether running `thinktime ARGS` costs next to nothing (see the module docstring)."""
    words = [a for a in args if not a.startswith("-")]
    sub = words[0] if words else ""
    if "--help" in args or "--version" in args or sub in {"models", "strategies"}:
        return True
    if sub in {"solve", "bench"}:
        return option_values(args, "-m", "--model") == ["fake"]
    committed = all(
        (ROOT / store).is_file() and store.startswith("docs/")
        for store in option_values(args, "--store")
    )
    if sub in RUNNABLE_STORES or (sub == "view" and "--export" in args):
        return bool(option_values(args, "--store")) and committed
    if sub == "plan" and words[1:2] == ["estimate"]:
        return committed  # a roofline: no model runs
    return False


def copy_inputs(args: list[str], workdir: Path) -> None:
    """Repository files a command names, copied to the same place under its working folder."""
    for arg in args:
        value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
        source = ROOT / value
        target = workdir / value
        if value and not value.startswith("/") and source.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def check_thinktime(args: list[str], workdir: Path) -> None:
    parse_thinktime(args)
    if not cheap(args) or tuple(args) in RAN:
        return
    RAN.add(tuple(args))
    from typer.testing import CliRunner

    copy_inputs(args, workdir)
    env = {"COLUMNS": "120", "THINKTIME_DATA": str(workdir)}
    result = CliRunner().invoke(cli_app(), args, env=env)
    if result.exit_code != 0:
        detail = result.output[-2000:]
        if result.exception and not isinstance(result.exception, SystemExit):
            detail += f"\n{type(result.exception).__name__}: {result.exception}"
        pytest.fail(f"`thinktime {shlex.join(args)}` exited {result.exit_code}:\n{detail}")


# ---------------------------------------------------------------- the pages' tests


@dataclass
class Page:
    """A parsed page, how far its examples have run, and its working folder."""

    document: Document
    examples: list[Example]
    workdir: Path
    done: int = 0
    failed: set[int] = field(default_factory=set)


_PAGES: dict[Path, Page] = {}


def _cases() -> Iterator[Any]:
    for path in PAGES:
        for index, example in enumerate(SYBIL.parse(path)):
            if isinstance(example.region.parsed, Block):
                name = f"{path.relative_to(ROOT)}:{example.line}"
                yield pytest.param(path, index, id=name)


def _page(path: Path, factory: pytest.TempPathFactory) -> Page:
    if path not in _PAGES:
        document = SYBIL.parse(path)
        workdir = factory.mktemp(path.stem)
        document.namespace["__workdir__"] = workdir
        _PAGES[path] = Page(document, list(document), workdir)
    return _PAGES[path]


@pytest.mark.parametrize(("path", "index"), list(_cases()))
def test_doc_block(
    path: Path, index: int, tmp_path_factory: pytest.TempPathFactory, monkeypatch
) -> None:
    """The block runs (or parses); the blocks before it on its page ran first."""
    page = _page(path, tmp_path_factory)
    monkeypatch.chdir(page.workdir)
    while page.done < index:  # a test picked alone (-k): its page's earlier blocks first
        with contextlib.suppress(Exception, pytest.fail.Exception, pytest.skip.Exception):
            page.examples[page.done].evaluate()  # its own test reports it
        page.done += 1
    page.done = index + 1
    page.examples[index].evaluate()


# ---------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ("```console\n$ thinktime report --stor runs/x.db\n```\n", "does not parse"),
        ("```console\n$ thinktime solve 2+2 --max-tokens many\n```\n", "does not parse"),
        ("```bash\nthinktime bench -s cot:beams=2 --limit 2\n```\n", "beams"),
        ("```console\n$ thinktime frobnicate\n```\n", "no such command"),
        ("```bash\nmake docz\n```\n", "no such Makefile target"),
        ('```json\n{"a": 1,}\n```\n', "Expecting"),
        ("```text\n$ thinktime models\n```\n", "write it as ```console"),
        ("```\nplain\n```\n", "no language"),
        ('```yaml title="docs/plan/agents-7b-sc8.yaml"\nagents: 1\n```\n', "differs"),
    ],
)
def test_checker_catches_drift(block: str, error: str, tmp_path: Path, monkeypatch) -> None:
    """A renamed flag, a bad value, an unknown strategy parameter, command or target, bad
    JSON, an unchecked command or an unlabelled block each fail."""
    page = tmp_path / "page.md"
    page.write_text("Some prose.\n\n" + block)
    document = SYBIL.parse(page)
    document.namespace["__workdir__"] = tmp_path
    monkeypatch.chdir(tmp_path)
    [example] = list(document)
    with pytest.raises((pytest.fail.Exception, AssertionError, ValueError)) as caught:
        example.evaluate()
    assert error in str(caught.value)


def test_pages_found() -> None:
    assert ROOT / "README.md" in PAGES and len(PAGES) > 10
    assert os.path.isfile(ROOT / "mkdocs.yml")


def test_the_strategies_table_in_the_cli_page_lists_every_registered_strategy() -> None:
    """docs/cli.md shows `thinktime strategies` as printed; a strategy added since is missing
    there until the table is printed again (`COLUMNS=100 thinktime strategies` in a terminal)."""
    from thinktime.strategies import STRATEGIES

    page = (ROOT / "docs" / "cli.md").read_text()
    table = page.split("$ thinktime strategies\n", 1)[1].split("```", 1)[0]
    shown = {m.group(1) for m in re.finditer(r"^│ ([a-z_]+)\s+│", table, re.MULTILINE)}
    assert shown == set(STRATEGIES)
