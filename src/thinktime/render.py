"""Rich renderings of results, bills and tables for the CLI (no I/O besides the console given).

A table goes through `show_table`: drawn in a terminal; piped or redirected, tab-separated
lines, so `thinktime strategies | grep consistency` sees every name and value whole:

    >>> from io import StringIO
    >>> out = StringIO()
    >>> table = Table(title="strategies")
    >>> table.add_column("name")
    >>> table.add_column("parameters")
    >>> table.add_row("adaptive_consistency", "[bold]max_n[/bold]=16")
    >>> show_table(Console(file=out, width=20), table)
    >>> print(out.getvalue().replace("\\t", " | "), end="")
    # strategies
    name | parameters
    adaptive_consistency | max_n=16
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from thinktime.types import Bill, Result


def si(value: float | None, unit: str = "") -> str:
    """1.23e12 → '1.23 T' — compact numbers for FLOPs."""
    if value is None:
        return "unknown"
    scales = ((1e24, "Y"), (1e21, "Z"), (1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"))
    for factor, prefix in (*scales, (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}".rstrip()


def bill_table(bill: Bill) -> Table:
    table = Table(title="bill", show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column(justify="right")
    rows: list[tuple[str, str]] = [
        ("prompt tokens", f"{bill.prompt_tokens:,} ({bill.cached_prompt_tokens:,} cached)"),
        ("completion tokens", f"{bill.completion_tokens:,}"),
        ("  reasoning", f"{bill.reasoning_tokens:,}"),
        ("verifier tokens", f"{bill.verifier_tokens:,}"),
        (
            "samples / engine calls",
            f"{bill.samples} / {bill.calls}"
            + (f" ({bill.samples_cut} stopped early)" if bill.samples_cut else ""),
        ),
        ("FLOPs", si(bill.flops, "FLOP")),
        ("wall time", f"{bill.seconds:.2f} s"),
        ("cost", f"${bill.dollars:.6f}"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def votes_table(result: Result) -> Table:
    """Votes per answer; with a verifier, also each answer's best score."""
    table = Table(title="votes", box=None, pad_edge=False)
    table.add_column("answer")
    table.add_column("votes", justify="right")
    scored = any(s.score is not None for s in result.samples)
    if scored:
        table.add_column("best verifier score", justify="right")
    total = sum(result.votes.values()) or 1.0
    for answer, count in sorted(result.votes.items(), key=lambda kv: -kv[1]):
        mark = " ✓" if answer == result.answer else ""
        row = [f"{escape(answer)}{mark}", f"{count:g} ({count / total:.0%})"]
        if scored:
            best = max(
                (s.score for s in result.samples if s.score is not None and s.answer == answer),
                default=None,
            )
            row.append("—" if best is None else f"{best:.2f}")
        table.add_row(*row)
    unanswered = sum(1 for s in result.samples if s.answer is None)
    if unanswered:
        table.add_row("[dim](no answer)[/dim]", f"{unanswered}")
    return table


# strategy details worth a line under the answer
_FACTS = ("samples_used", "difficulty", "thinking_tokens", "waits", "steps", "finished")


def show_result(console: Console, result: Result) -> None:
    """Reasoning of the chosen sample, the answer, the votes and the bill."""
    title = f"{result.strategy} · {result.model} · {len(result.samples)} sample(s)"
    reasoning = Text(result.reasoning or "(no sample chosen)")
    console.print(Panel(reasoning, title=title, title_align="left"))
    answer = result.answer if result.answer is not None else "(no answer found)"
    console.print(Text.assemble(("answer: ", "bold"), (answer, "bold green")))
    facts = {k: result.details[k] for k in _FACTS if k in result.details}
    if result.budget_limited:
        facts["budget"] = "ran out — best answer so far"
    if facts:
        console.print(Text("   ".join(f"{k}: {v}" for k, v in facts.items()), style="dim"))
    rounds = result.details.get("rounds")
    if isinstance(rounds, list) and rounds:
        checks = " → ".join(f"{r['answer']} {r['verdict']}" for r in rounds)
        console.print(Text.assemble(("self-checks: ", "bold"), checks))
    console.print(Group(votes_table(result), Text(""), bill_table(result.bill)))


def result_json(result: Result) -> dict[str, Any]:
    data = asdict(result)
    for sample, shown in zip(result.samples, data["samples"], strict=True):
        c = sample.confidence  # the summaries, not every token's confidence
        shown["confidence"] = None if c is None else {
            name: getattr(c, name)
            for name in ("mean", "lowest_group", "bottom10", "tail", "self_certainty")
        }  # fmt: skip
    data["bill"] = result.bill.to_dict()
    data["reasoning"] = result.reasoning
    return data


def plain(cell: object) -> str:
    """A table cell as one line of plain text (markup rendered away, tabs and newlines spaced)."""
    text = cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain
    return " ".join(text.replace("\t", " ").splitlines())


def show_table(console: Console, table: Table) -> None:
    """`table` on `console`: drawn when it is a terminal, a word wider than its column folded
    onto the next line rather than cut with `…`; otherwise `# title`, a header line and one
    tab-separated line per row (then `# caption`), nothing cut or wrapped."""
    if console.is_terminal:
        for column in table.columns:
            column.overflow = "fold"
        console.print(table)
        return
    lines = [f"# {plain(table.title)}"] if table.title else []
    lines.append("\t".join(plain(column.header) for column in table.columns))
    cells = [[plain(cell) for cell in column.cells] for column in table.columns]
    lines += ["\t".join(row) for row in zip(*cells, strict=True)]
    if table.caption:
        lines.append(f"# {plain(table.caption)}")
    console.file.write("\n".join(lines) + "\n")  # raw: rich would expand the tabs
