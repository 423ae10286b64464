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

import copy
import re
from dataclasses import asdict, replace
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.markup import escape
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from thinktime.strategies import STRATEGIES
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
        # the answer the strategy returned: "chosen", not a ✓ that reads as "correct"
        mark = " [dim](chosen)[/dim]" if answer == result.answer else ""
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


LENGTH = "length"  # the finish_reason of a sample cut at its max_tokens


def show_result(console: Console, result: Result) -> None:
    """The chosen sample's thinking (a reasoning model's, apart) and text, the answer, the votes
    and the bill."""
    title = f"{result.strategy} · {result.model} · {len(result.samples)} sample(s)"
    if result.thinking:
        thinking = Text(result.thinking, style="dim")
        console.print(Panel(thinking, title="thinking", title_align="left", style="dim"))
    text = Text(result.text or "(no sample chosen)")
    console.print(Panel(text, title=title, title_align="left"))
    answer = result.answer if result.answer is not None else "(no answer found)"
    line = Text.assemble(("answer: ", "bold"), (answer, "bold"))
    note = truncation_note(result)
    if note:
        line.append(f" ({note})", style="bold yellow")
    console.print(line)
    # the details its strategy declares worth a line (`StrategySpec.facts`)
    shown = STRATEGIES[result.strategy].facts if result.strategy in STRATEGIES else ()
    facts = {k: result.details[k] for k in shown if k in result.details}
    if result.budget_limited:
        facts["budget"] = "ran out — best answer so far"
    if facts:
        console.print(Text("   ".join(f"{k}: {v}" for k, v in facts.items()), style="dim"))
    rounds = result.details.get("rounds")
    if isinstance(rounds, list) and rounds:
        checks = " → ".join(f"{r['answer']} {r['verdict']}" for r in rounds)
        console.print(Text.assemble(("self-checks: ", "bold"), checks))
    console.print(Group(votes_table(result), Text(""), bill_table(result.bill)))


def truncated(result: Result) -> bool:
    """Whether the answer's sample stopped at the length limit (`finish_reason` "length"):
    its text was cut, so the answer may be a number from mid-sentence. With no sample chosen,
    whether any sample stopped there."""
    if result.chosen is not None:
        return result.samples[result.chosen].finish_reason == LENGTH
    return any(s.finish_reason == LENGTH for s in result.samples)


def truncation_note(result: Result) -> str:
    """What to say beside the answer about samples cut at the length limit ('' when none).

    >>> from thinktime.types import Sample
    >>> cut = Sample("The total is 56 and then", "56", "length", 64, 0)
    >>> truncation_note(Result("q?", "56", "cot", "m", (cut,), chosen=0))
    'truncated at 64 tokens; raise --max-tokens'
    """
    raise_it = "raise --max-tokens or the budget" if result.budget_limited else "raise --max-tokens"
    cut = [s for s in result.samples if s.finish_reason == LENGTH]
    if truncated(result):
        tokens = result.samples[result.chosen].completion_tokens if result.chosen is not None else 0
        at = f" at {tokens} tokens" if tokens else ""
        return f"truncated{at}; {raise_it}"
    if cut:
        return f"{len(cut)} of {len(result.samples)} samples truncated; {raise_it}"
    return ""


def result_json(result: Result) -> dict[str, Any]:
    data = asdict(result)
    # the answer's sample was cut at the length limit; how many samples were
    data["truncated"] = truncated(result)
    data["samples_truncated"] = sum(s.finish_reason == LENGTH for s in result.samples)
    for sample, shown in zip(result.samples, data["samples"], strict=True):
        c = sample.confidence  # the summaries, not every token's confidence
        shown["confidence"] = None if c is None else {
            name: getattr(c, name)
            for name in ("mean", "lowest_group", "bottom10", "tail", "self_certainty")
        }  # fmt: skip
    data["bill"] = result.bill.to_dict()
    data["text"] = result.text  # the chosen sample's, after any thinking
    data["thinking"] = result.thinking
    return data


def plain(cell: object) -> str:
    """A table cell as one line of plain text (markup rendered away, tabs and newlines spaced)."""
    text = cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain
    return " ".join(text.replace("\t", " ").splitlines())


def show_table(console: Console, table: Table) -> None:
    """`table` on `console`: drawn when it is a terminal (see `_fit_table`: numbers never split,
    text wrapped between words; one `header: value` block per row when even that is too wide);
    otherwise `# title`, a header line and one tab-separated line per row (then `# caption`),
    nothing cut or wrapped."""
    if console.is_terminal:
        _draw_table(console, table)
        return
    lines = [f"# {plain(table.title)}"] if table.title else []
    lines.append("\t".join(plain(column.header) for column in table.columns))
    cells = [[plain(cell) for cell in column.cells] for column in table.columns]
    lines += ["\t".join(row) for row in zip(*cells, strict=True)]
    if table.caption:
        lines.append(f"# {plain(table.caption)}")
    console.file.write("\n".join(lines) + "\n")  # raw: rich would expand the tabs


# tables in a terminal: numbers whole, text wrapped between words, records when too wide

_NUMBER = r"[-+±−]?\$?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?"
_UNIT = r"[A-Za-z]{1,3}"
# spaces that never break a line: inside a bracketed group of numbers (`[19.0%, 36.0%]`,
# `(1.16 T)`) and before a short unit after a number or such a group (`366.20 G`, `] pts`)
_GLUED = re.compile(
    rf"(?:[\[(]{_NUMBER}(?:\s+{_UNIT}\b)?(?:,?\s+{_NUMBER}(?:\s+{_UNIT}\b)?)*[\])]"
    rf"|(?<![\w.=:@/]){_NUMBER})(?:\s+{_UNIT}[,;)\]]?(?!\S))?"
)


def _atoms(plain: str) -> list[tuple[int, int]]:
    """The spans of `plain` that a line never breaks inside: its words, glued by `_GLUED`.

    >>> text = "+6.0 [-2.0, +14.0] pts, 366.20 G"
    >>> [text[a:b] for a, b in _atoms(text)]
    ['+6.0', '[-2.0, +14.0] pts,', '366.20 G']
    """
    glued = [m.span() for m in _GLUED.finditer(plain)]
    atoms: list[tuple[int, int]] = []
    for word in re.finditer(r"\S+", plain):
        start, end = word.span()
        if atoms and any(a < atoms[-1][1] and start < b for a, b in glued):
            atoms[-1] = (atoms[-1][0], end)
        else:
            atoms.append((start, end))
    return atoms


def _longest_atom(text: Text) -> int:
    return max((cell_len(text.plain[a:b]) for a, b in _atoms(text.plain)), default=0)


def _widest_line(text: Text) -> int:
    return max(cell_len(line) for line in text.plain.split("\n"))


def _numeric(text: Text) -> bool:
    """Numbers, with units, CIs or `name=value`: each word has a digit or is at most 3 long."""
    words = text.plain.split()
    return bool(words) and all(len(w) <= 3 or any(c.isdigit() for c in w) for w in words)


def _wrap(text: Text, width: int, *, header: bool = False, indent: int = 0) -> Text:
    """`text` in lines of at most `width` cells (those after the first indented by `indent`),
    broken only between atoms — a header's word also after a `/` or `-`; an atom still wider
    than the line is left for rich to fold."""
    lines: list[Text] = []
    for line in text.split("\n", allow_blank=True):
        plain_line = line.plain
        spans = _atoms(plain_line)
        if header:  # `tok/s/replica` → `tok/`, `s/`, `replica`
            spans = [
                (a + m.start(), a + m.end())
                for a, b in spans
                for m in re.finditer(r"[^/-]*[/-]|[^/-]+", plain_line[a:b])
            ]
        broken: list[tuple[int, int]] = []
        for start, end in spans:
            room = width if not lines and len(broken) == 1 else width - indent
            if broken and cell_len(plain_line[broken[-1][0] : end]) <= room:
                broken[-1] = (broken[-1][0], end)
            else:
                broken.append((start, end))
        pieces = [line[a:b] for a, b in broken] or [line]
        lines += [pieces[0], *(Text(" " * indent) + piece for piece in pieces[1:])]
    return Text("\n").join(lines)


def _as_text(console: Console, cell: object, highlight: bool) -> Text | None:
    """A cell or header as the `Text` the table would draw (`None` for other renderables)."""
    if isinstance(cell, Text):
        return cell
    return console.render_str(cell, highlight=highlight) if isinstance(cell, str) else None


def _grow(widths: list[int], targets: list[int], room: int) -> tuple[list[int], int]:
    """`widths` grown toward `targets` by at most `room` cells in all, each column in proportion
    to what it lacks; the grown widths and the room left."""
    wants = [max(0, target - width) for width, target in zip(widths, targets, strict=True)]
    total = sum(wants)
    if total <= room:
        return [width + want for width, want in zip(widths, wants, strict=True)], room - total
    gains = [want * room // total for want in wants]
    short = sorted(range(len(wants)), key=lambda i: gains[i] - wants[i])
    for i in short[: room - sum(gains)]:
        gains[i] += 1
    return [width + gain for width, gain in zip(widths, gains, strict=True)], 0


def _draw_table(console: Console, table: Table) -> None:
    """`table` drawn within the console's width without splitting a number, a CI, a number
    with its unit or a word (`_widths`), boxed or, when that is too wide, compact (no edges, a
    space between columns); when even the compact one is, one `header: value` block per row."""
    table = copy.copy(table)  # the caller's table is left as it was
    table.columns = [replace(c, _cells=list(c.cells), overflow="fold") for c in table.columns]
    cells = [[_as_text(console, cell, c.highlight) for cell in c.cells] for c in table.columns]
    headers = [_as_text(console, c.header, c.highlight) if table.show_header else None
               for c in table.columns]  # fmt: skip
    hard, soft, natural = _widths(console, table, cells, headers)
    compact = copy.copy(table)
    compact.box, compact.show_edge, compact.padding = box.SIMPLE_HEAD, False, (0, 0)
    if sum(natural) <= _room(console, table):
        _wrap_notes(console, table, sum(natural) + console.width - _room(console, table))
        console.print(table)
        return
    for need in (soft, hard):  # numbers and header words whole if there is room, else atoms
        for drawn in (table, compact):
            room = _room(console, drawn)
            if sum(need) <= room:
                widths, left = _grow(need, soft, room - sum(need))
                widths, _ = _grow(widths, natural, left)
                _fit_columns(drawn, widths, cells, headers)
                _wrap_notes(console, drawn, sum(widths) + console.width - room)
                console.print(drawn)
                return
    _draw_records(console, table, cells)


_HEADER_PIECES = re.compile(r"[^\s/-]+[/-]?")  # `tok/s/replica` → `tok/`, `s/`, `replica`


def _widths(
    console: Console, table: Table, cells: list[list[Text | None]], headers: list[Text | None]
) -> tuple[list[int], list[int], list[int]]:
    """Each column's content width at least (its widest atom, a `no_wrap` column's widest
    cell, its header's widest piece), with room (also its cells whole when all are numeric,
    and its header's words whole), and at most (its widest cell or header)."""
    hard, soft, natural = [], [], []
    for column, texts, header in zip(table.columns, cells, headers, strict=True):
        others = [
            Measurement.get(console, console.options, cell)
            for cell, text in zip(column.cells, texts, strict=True)
            if text is None
        ]
        whole = [_widest_line(text) for text in texts if text is not None]
        atoms = whole if column.no_wrap else [_longest_atom(t) for t in texts if t is not None]
        numeric = all(text is not None and _numeric(text) for text in texts)
        heading = header.plain if header is not None else ""
        pieces = [cell_len(piece) for piece in _HEADER_PIECES.findall(heading)]
        words = [cell_len(word) for word in heading.split()]
        hard.append(max([1, *atoms, *pieces, *(size.minimum for size in others)]))
        soft.append(max([hard[-1], *(whole if numeric else []), *words]))
        widest = [_widest_line(header)] if header is not None else []
        natural.append(max([soft[-1], *whole, *widest, *(size.maximum for size in others)]))
    return hard, soft, natural


def _room(console: Console, table: Table) -> int:
    """The cells the console's width leaves for `table`'s columns' contents."""
    padding = sum(table._get_padding_width(i) for i in range(len(table.columns)))
    return console.width - table._extra_width - padding


def _fit_columns(
    table: Table, widths: list[int], cells: list[list[Text | None]], headers: list[Text | None]
) -> None:
    """Each column of `table` set to its width, its cells and header wrapped to it."""
    for column, width, texts, header in zip(table.columns, widths, cells, headers, strict=True):
        column.width, column.no_wrap, column.min_width, column.max_width = width, False, None, None
        for row, text in enumerate(texts):
            if text is not None and _widest_line(text) > width:
                column._cells[row] = _wrap(text, width)
        if header is not None and _widest_line(header) > width:
            column.header = _wrap(header, width, header=True)


def _wrap_notes(console: Console, table: Table, width: int) -> None:
    """The title and caption wrapped between atoms to `width`, rather than by rich."""
    for name in ("title", "caption"):
        text = _as_text(console, getattr(table, name), False)
        if text is not None and _widest_line(text) > width:
            setattr(table, name, _wrap(text, width))


def _draw_records(console: Console, table: Table, cells: list[list[Text | None]]) -> None:
    """The title, one block of `header: value` lines per row (values wrapped between atoms,
    indented under their first line), then the caption."""
    width = console.width
    title = _as_text(console, table.title, False) if table.title else None
    if title is not None:
        console.print(_wrap(title, width), style=table.title_style or "table.title")
    names = [plain(column.header) if table.show_header else "" for column in table.columns]
    for row in range(table.row_count):
        if row:
            console.print()
        for name, column, texts in zip(names, table.columns, cells, strict=True):
            text = texts[row]
            value = text if text is not None else Text(plain(column._cells[row]))
            field = Text.assemble((f"{name}: ", "bold"), value) if name else value
            console.print(_wrap(field, width, indent=2), overflow="fold")
    caption = _as_text(console, table.caption, False) if table.caption else None
    if caption is not None:
        console.print()
        console.print(_wrap(caption, width), style=table.caption_style or "table.caption")
