"""The bench's tables: one row per (model, config) with accuracy, cost and the sweep's
throughput, and, with several models, each point against the rival's best at matched FLOPs.

The throughput columns say what a user plans with: `tok/s (engine)` is the completion tokens
the engine made per wall second of the sweep; `wall s/q` the sweep's wall seconds per question
with `in flight` questions running at once (their mean; one question's latency is
wall s/q × in flight). `CPU overhead` — the share of the process's CPU time outside the engine's
threads (`bench.overhead`) — is measured while a sweep runs, so only `thinktime bench` has it.

    >>> from thinktime.bench.results import Summary
    >>> row = Summary("m", "cot", 100, 0.27, (0.19, 0.36), 291.0, 3.7e11, 121.2, 8.04, 15.1, 36.2)
    >>> results_table([row]).columns[7].header
    'wall s/q'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table

from thinktime.bench.matched import Matched
from thinktime.bench.paired import Comparison
from thinktime.bench.results import Summary
from thinktime.bench.rules import RuleRow
from thinktime.render import si

CAPTION = (
    "tok/s (engine): completion tokens per wall second of the sweep · wall s/q: the sweep's "
    "wall seconds per question with `in flight` questions at once (mean) · latency of one "
    "question = wall s/q × in flight"
)


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def results_table(
    summaries: Sequence[Summary], overhead: Mapping[tuple[str, str], float] | None = None
) -> Table:
    """The results; `overhead` ((model, config) → CPU share outside the engine) adds a column."""
    table = Table(title="results", caption=CAPTION)
    table.add_column("model", justify="right", no_wrap=True, overflow="fold")
    table.add_column("config", justify="right", no_wrap=True, overflow="fold")
    headers = ["n", "accuracy [95% CI]", "tokens/q", "FLOPs/q", "tok/s (engine)", "wall s/q"]
    headers += ["in flight", *(["CPU overhead"] if overhead is not None else []), "diagnostics"]
    for column in headers:
        table.add_column(column, justify="right")
    for s in summaries:
        cpu = [] if overhead is None else [_percent(overhead.get((s.model, s.config)))]
        table.add_row(
            s.model, s.config, str(s.n), f"{s.accuracy:.1%} [{s.ci[0]:.1%}, {s.ci[1]:.1%}]",
            f"{s.tokens:.0f}", si(s.flops), _number(s.tokens_per_second),
            _number(s.wall_seconds, 2), _number(s.in_flight), *cpu,
            ", ".join(f"{k} {v}" for k, v in s.verdicts.items() if v),
        )  # fmt: skip
    return table


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def matched_table(rows: Sequence[Matched]) -> Table:
    """Each point vs the rival model's best config at no more FLOPs per question."""
    table = Table(title="models at matched FLOPs (rival: best config at ≤ these FLOPs/q)")
    for column in ("model", "config", "FLOPs/q", "accuracy", "rival", "rival's best", "accuracy"):
        table.add_column(column, justify="right", no_wrap=column in ("model", "config"))
    for m in rows:
        table.add_row(
            m.model, m.config, si(m.flops), f"{m.accuracy:.1%}", m.rival,
            f"{m.rival_config} ({si(m.rival_flops)})" if m.rival_config else "—",
            "—" if m.rival_accuracy is None else f"{m.rival_accuracy:.1%}",
        )  # fmt: skip
    return table


def _difference(c: Comparison) -> str:
    """A paired difference with its CI, in points: `+6.0 [-2.0, +14.0] pts`."""
    return f"{100 * c.difference:+.1f} [{100 * c.ci[0]:+.1f}, {100 * c.ci[1]:+.1f}] pts"


def paired_table(rows: Sequence[Comparison]) -> Table:
    """Each config against the reference on the questions both answered: the difference with
    its paired 95% CI, the discordant questions, McNemar's exact p, and the questions a
    5-point difference would need (80% power)."""
    table = Table(title="paired differences (config − reference, same questions)")
    for column in ("model", "config", "reference", "n", "difference [95% CI]", "wins/losses",
                   "McNemar p", "n for ±5 pts"):  # fmt: skip
        table.add_column(column, justify="right", no_wrap=column in ("model", "config"))
    for c in rows:
        table.add_row(
            c.model, c.b, c.a, str(c.n),
            _difference(c),
            f"{c.b_wins}/{c.a_wins}", f"{c.p_value:.3g}", str(c.needed or "—"),
        )  # fmt: skip
    return table


def replay_rules_table(rows: Sequence[RuleRow], pool: str, reference: str) -> Table:
    """Each replayed rule: accuracy; tokens per question and their ratio to the reference's,
    completion tokens alone and with the prompt tokens of the prefills each paid; samples
    drawn, and those cut with their tokens (where a stopping rule's tokens went); and the
    paired difference from the reference on the same questions."""
    table = Table(
        title=f"replayed rules on {pool} (vs {reference}, same questions)",
        caption="× tokens: completion tokens / the reference's · × with prompt: with each "
        "prefill's prompt tokens (one per engine call, one per watched trace)",
    )
    for column in ("rule", "n", "accuracy", "tokens/q", "× tokens", "× with prompt",
                   "prefills/q", "samples/q", "cut/q", "cut tokens/q", "difference [95% CI]",
                   "wins/losses", "McNemar p"):  # fmt: skip
        table.add_column(column, justify="right", no_wrap=column == "rule")
    for row in rows:
        c = row.versus
        table.add_row(
            row.rule, str(row.n), f"{row.accuracy:.1%}", f"{row.tokens:.0f}",
            f"{row.token_ratio:.2f}", f"{row.total_token_ratio:.2f}", f"{row.prefills:.1f}",
            f"{row.samples:.1f}", f"{row.cut:.1f}", f"{row.cut_tokens:.0f}",
            _difference(c),
            f"{c.b_wins}/{c.a_wins}", f"{c.p_value:.3g}",
        )  # fmt: skip
    return table
