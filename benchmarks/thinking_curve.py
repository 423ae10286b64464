"""The thinking student's curve: accuracy vs thinking budget, beside the base and the teacher.

Reads a bench store holding, on the same questions, each model under
`budget_forcing:max_thinking_tokens=B` (and optionally `cot`, uncapped), and prints one markdown
table: per (model, budget) the accuracy with n, its 95% CI and the unparseable count, the mean
completion tokens (thinking + answer) and thinking tokens; then the paired difference of the
student against the base and against the teacher at each budget (the same questions; bootstrap
and Bonett & Price CIs, McNemar's exact p), via `thinktime.bench.paired.compare`.

    python benchmarks/thinking_curve.py --store docs/results/thinking_student/curve.db \\
        --student qwen2.5-coder-0.5b-think --base qwen2.5-coder-0.5b --teacher qwen2.5-coder-1.5b

How the store is made (alone on the machine; each command resumes):

    T=reasoning_gym:chain_sum:min_terms=2,max_terms=3,min_digits=2,max_digits=2
    for m in qwen2.5-coder-0.5b-think qwen2.5-coder-0.5b; do
      thinktime bench --task $T --size 1000 --limit 200 -m $m --max-tokens 512 \\
        -s budget_forcing:max_thinking_tokens=32 -s budget_forcing:max_thinking_tokens=64 \\
        -s budget_forcing:max_thinking_tokens=128 -s cot --store STORE
    done
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

from thinktime.bench.paired import compare
from thinktime.bench.results import bootstrap_ci
from thinktime.bench.store import Store

BUDGET = re.compile(r"max_thinking_tokens=(\d+)")


def budget_of(config: str) -> int | None:
    """The thinking cap a config names (None: uncapped).

    >>> budget_of("budget_forcing:max_thinking_tokens=64"), budget_of("cot")
    (64, None)
    """
    found = BUDGET.search(config)
    return int(found.group(1)) if found else None


def arms(store: Store) -> dict[tuple[str, str], dict[str, dict]]:
    """(model, config) → question id → its stored result row."""
    table: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for row in store.results():
        table[(row["model"], row["config"])][row["question_id"]] = row
    return table


def _label(budget: int | None) -> str:
    return "uncapped" if budget is None else str(budget)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--student", required=True)
    parser.add_argument("--base", required=True)
    parser.add_argument("--teacher")
    args = parser.parse_args()
    table = arms(Store(args.store, create=False, readonly=True))
    lines = [
        "| model | thinking budget | n | accuracy [95% CI] | unparseable | tokens/answer | "
        "thinking tokens |",
        "|---|---|---|---|---|---|---|",
    ]
    order = [m for m in (args.student, args.base, args.teacher) if m]
    keys = sorted(table, key=lambda k: (order.index(k[0]) if k[0] in order else 9,
                                        budget_of(k[1]) or 10**9))  # fmt: skip
    for model, config in keys:
        rows = list(table[(model, config)].values())
        hits = [float(r["verdict"] == "correct") for r in rows]
        low, high = bootstrap_ci(hits)
        unparseable = sum(r["answer"] in (None, "") for r in rows)
        tokens = sum(r["completion_tokens"] or 0 for r in rows) / len(rows)
        thinking = sum(r["reasoning_tokens"] or 0 for r in rows) / len(rows)
        lines.append(
            f"| {model} | {_label(budget_of(config))} | {len(rows)} | {sum(hits) / len(rows):.1%} "
            f"[{low:.1%}, {high:.1%}] | {unparseable} | {tokens:.0f} | {thinking:.0f} |"
        )
    print("\n".join(lines))
    print()
    print("| student − other | thinking budget | n | difference [bootstrap 95% CI] | "
          "adjusted Wald | wins / losses | McNemar p |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    by_budget = {(m, budget_of(c)): rows for (m, c), rows in table.items()}
    for other in (args.base, args.teacher):
        for (model, budget), mine in sorted(
            ((k, v) for k, v in by_budget.items() if k[0] == args.student),
            key=lambda kv: kv[0][1] or 10**9,
        ):
            theirs = by_budget.get((other, budget))
            if not theirs:
                continue
            shared = sorted(mine.keys() & theirs.keys())
            c = compare(
                [theirs[q]["verdict"] == "correct" for q in shared],
                [mine[q]["verdict"] == "correct" for q in shared],
                other,
                model,
            )
            print(
                f"| vs {other} | {_label(budget)} | {c.n} | {c.difference:+.1%} "
                f"[{c.ci[0]:+.1%}, {c.ci[1]:+.1%}] | [{c.ci_adjusted[0]:+.1%}, "
                f"{c.ci_adjusted[1]:+.1%}] | {c.b_wins} / {c.a_wins} | {c.p_value:.3f} |"
            )


if __name__ == "__main__":
    main()
