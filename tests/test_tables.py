"""Every table in a terminal 60, 80 and 100 columns wide: numbers, CIs, numbers with units and
`name=value` tokens are never split across lines, words wrap whole, nothing is wider than the
terminal (issue #24: `9,7 / 54. / 2`, `12,62/8`, `bandw/idth`)."""

from __future__ import annotations

import io
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from thinktime.render import plain, show_table

DOCS = Path(__file__).resolve().parent.parent / "docs"
WIDTHS = (60, 80, 100)

_NUMBER = r"[-+±$]?\d[\d,.]*(?:e[-+]?\d+)?%?"
_UNIT = r"[A-Za-z]{1,3}"
# what must stay on one line (each searched separately: the matches overlap)
TOKENS = (
    re.compile(r"\S+"),  # every word: 9,754 54.2% ±3.1 1.2e+15 $0.03 12/6 answer_tokens=32,
    re.compile(rf"[\[(]{_NUMBER}(?: {_UNIT})?(?:,? {_NUMBER}(?: {_UNIT})?)*[\])]"),  # [13, 50]
    re.compile(rf"(?<![\w.]){_NUMBER} (?:[kMGTPEZY]|MiB|M|s|pts)(?!\S)"),  # 366.20 G, 4.2 s
)


def _copy(tmp_path: Path, store: str) -> Path:
    """A committed store copied: opened read-write, the original would be migrated."""
    path = tmp_path / Path(store).name
    shutil.copy(DOCS / "results" / store, path)
    return path


def _cli_tables(monkeypatch: pytest.MonkeyPatch, *args: str) -> list[Table]:
    """The tables a command hands to `show_table` (built inline in the CLI)."""
    from thinktime.cli import app

    tables: list[Table] = []
    for name, module in list(sys.modules.items()):
        if name.startswith("thinktime") and getattr(module, "show_table", None) is show_table:
            monkeypatch.setattr(module, "show_table", lambda _console, t: tables.append(t))
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    assert tables, f"`thinktime {' '.join(args)}` showed no table"
    return tables


def _models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Table]:
    return _cli_tables(monkeypatch, "models")


def _strategies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Table]:
    return _cli_tables(monkeypatch, "strategies")


def _fit_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Table]:
    store = str(_copy(tmp_path, "deepconf/gsm8k-0.5b.db"))
    config = "self_consistency:n=16,top_logprobs=20"
    return _cli_tables(monkeypatch, "fit-route", "--store", store, "--model", "qwen2.5-coder-0.5b",
                       "--strategy", config, "--probe", "2")  # fmt: skip


def _report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Table]:
    """`thinktime report` (and `bench`): results, with CPU overhead too, paired, matched."""
    from thinktime.bench.matched import matched
    from thinktime.bench.paired import paired
    from thinktime.bench.results import curve_points, summarize
    from thinktime.bench.show import matched_table, paired_table, results_table
    from thinktime.bench.store import Store

    store = Store(_copy(tmp_path, "headline/gsm8k.db"), create=False)
    summaries = summarize(store)
    overhead = {(s.model, s.config): 0.0123 * i for i, s in enumerate(summaries)}
    return [
        results_table(summaries),
        results_table(summaries, overhead),
        paired_table(paired(store)),
        matched_table(matched(curve_points(store))),
    ]


def _replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Table]:
    from thinktime.bench.replay import load_pools
    from thinktime.bench.rules import replay_table
    from thinktime.bench.show import replay_rules_table
    from thinktime.bench.store import Store

    store = Store(_copy(tmp_path, "deepconf/gsm8k-0.5b.db"), create=False)
    model, config = "qwen2.5-coder-0.5b", "self_consistency:n=16,top_logprobs=20"
    rows = replay_table(load_pools(store, model, config))
    return [replay_rules_table(rows, f"{model} · {config}", "maj@n")]


def _plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Table]:
    """The "which chip" table of each documented workload, and the cheapest configurations
    (`cheapest` re-plans with the store's models, which would need their files)."""
    from thinktime.plan.cheapest import Option
    from thinktime.plan.planner import make_plan
    from thinktime.plan.show import cheapest_table, plan_table
    from thinktime.plan.workload import load_workload

    plans = [make_plan(load_workload(path)) for path in sorted((DOCS / "plan").glob("*.yaml"))]
    options = [
        Option("qwen2.5-coder-1.5b", "self_consistency:n=4", 0.55, "H100", 12_628, 97_543.2),
        Option("qwen2.5-coder-0.5b", "self_consistency:n=16", 0.33, "A100", 3, 1_234_567.8),
    ]
    return [*(plan_table(plan) for plan in plans), cheapest_table(options, 0.3)]


TABLES: dict[str, Callable[[Path, pytest.MonkeyPatch], list[Table]]] = {
    "models": _models, "strategies": _strategies, "fit-route": _fit_route, "report": _report,
    "replay": _replay, "plan": _plan,
}  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[Table]]:
    """A command's tables, built once for every width (the matched-FLOPs curve takes seconds)."""
    cache: dict[str, list[Table]] = {}

    def tables(command: str) -> list[Table]:
        if command not in cache:
            with pytest.MonkeyPatch.context() as monkeypatch:
                cache[command] = TABLES[command](tmp_path_factory.mktemp(command), monkeypatch)
        return cache[command]

    return tables


def _render(table: Table, width: int) -> list[str]:
    out = io.StringIO()
    console = Console(width=width, force_terminal=True, file=out, color_system=None)
    show_table(console, table)
    lines = out.getvalue().splitlines()
    assert all(cell_len(line) <= width for line in lines), out.getvalue()
    return lines


def _whole(tokens: list[str], lines: list[str]) -> list[str]:
    """The tokens that no single line holds whole."""
    return [token for token in tokens if not any(token in line for line in lines)]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", sorted(TABLES))
def test_numbers_and_words_are_never_split(command, width, built):
    for table in built(command):
        cells = [plain(cell) for column in table.columns for cell in column.cells]
        tokens = sorted({m.group() for cell in cells for p in TOKENS for m in p.finditer(cell)})
        lines = _render(table, width)
        assert not _whole(tokens, lines), "\n".join([*_whole(tokens, lines), *lines])


@pytest.mark.parametrize("width", WIDTHS)
def test_headers_break_between_words(width, built):
    """A header breaks at a space, then after a `/` or `-`, never inside a word."""
    for command in ("report", "plan", "replay", "fit-route"):
        for table in built(command):
            lines = _render(table, width)
            pieces = {
                p for c in table.columns for p in re.findall(r"[^\s/-]+[/-]?", plain(c.header))
            }
            assert not _whole(sorted(pieces), lines), "\n".join(lines)


def test_a_table_too_wide_for_the_terminal_becomes_records():
    table = Table(title="wide")
    for name in ("first", "second", "third", "fourth"):
        table.add_column(name, justify="right")
    table.add_row("1,234,567.89", "12,345,678.9%", "[1,234.5, 6,789.0]", "123,456,789")
    table.add_row("2", "3", "[4, 5]", "6")
    lines = _render(table, 40)
    assert "first: 1,234,567.89" in [line.strip() for line in lines]
    assert any("[1,234.5, 6,789.0]" in line for line in lines)
    assert "fourth: 6" in [line.strip() for line in lines]


def test_a_table_that_fits_is_drawn_unchanged():
    table = Table(title="small")
    table.add_column("name")
    table.add_column("value", justify="right")
    table.add_row("answer_tokens", "32")
    out = io.StringIO()
    Console(width=80, force_terminal=True, file=out, color_system=None).print(table)
    assert _render(table, 80) == out.getvalue().splitlines()


def test_a_narrow_terminal_shows_every_name_whole_and_cuts_nothing(monkeypatch):
    tables = _cli_tables(monkeypatch, "strategies")
    names = [plain(cell) for cell in tables[0].columns[0].cells]
    lines = _render(tables[0], 60)
    assert not any("…" in line for line in lines)
    assert {line.removeprefix("name: ") for line in lines} >= set(names)
