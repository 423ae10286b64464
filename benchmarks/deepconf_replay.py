"""DeepConf, confidence-weighted votes and self-certainty vs plain majority, on the same samples.

Reads a bench store holding a pool of N samples per question drawn with top-k logprobs
(`thinktime bench -s self_consistency:n=16,top_logprobs=20`: store migration 5 keeps each
token's confidence) and replays, at no new compute:
- maj@k on the first k samples (k = 1, 4, N);
- confidence-weighted votes over all N, by each trace summary;
- best-of-N by self-certainty (argmax);
- DeepConf offline (filter to the keep% most confident, weighted vote): low (10%), high (90%);
- DeepConf online (`deepconf`'s own loop, `bench.replay.replay_deepconf`): a trace is charged
  the tokens up to where the rule stops it.
Accuracy with a 95% bootstrap CI, completion tokens per question and their ratio to maj@N.
`--live CONFIG` also compares a stored live `deepconf` run with its replay on the same questions.

    python benchmarks/deepconf_replay.py docs/results/deepconf/gsm8k-0.5b.db \
        --model qwen2.5-coder-0.5b --config self_consistency:n=16,top_logprobs=20
"""

from __future__ import annotations

import argparse
import statistics

from rich.console import Console
from rich.table import Table

from thinktime.answers.confidence import first_cut, summarize, threshold
from thinktime.answers.voting import vote
from thinktime.bench.configs import parse_config
from thinktime.bench.replay import Pool, load_pools, prefix_vote, replay_deepconf
from thinktime.bench.results import bootstrap_ci
from thinktime.bench.store import Store
from thinktime.strategies.deepconf import DeepConfParams


def weighted_hit(pool: Pool, measure: str, n: int) -> bool:
    """Is the vote over the first n samples, each weighted by `measure`, correct?"""
    weights = [c.measure(measure) for c in pool.confidences[:n]]  # type: ignore[arg-type]
    winner, _ = vote(list(pool.answers[:n]), weights)
    return pool.hit(winner)


def certainty_hit(pool: Pool, n: int) -> bool:
    """Is the most self-certain of the first n samples (with an answer) correct?"""
    answered = [i for i in range(min(n, len(pool))) if pool.answers[i] is not None]
    if not answered:
        return False
    best = max(answered, key=lambda i: pool.confidences[i].self_certainty)
    return pool.correct[best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--config", default="self_consistency:n=16,top_logprobs=20")
    parser.add_argument("--questions", type=int, default=None, help="first Q questions only")
    parser.add_argument(
        "--live", default=None, help="a stored deepconf run's config: compare it with its replay"
    )
    args = parser.parse_args()
    store = Store(args.store, readonly=True)
    pools = [p for p in load_pools(store, args.model, args.config)]
    pools = [p for p in pools if len(p.confidences) == len(p)][: args.questions]
    if not pools:
        raise SystemExit(f"no {args.model} · {args.config} pools with confidences in {args.store}")
    size = min(len(p) for p in pools)
    full_hits = [float(prefix_vote(p, size)[0]) for p in pools]
    full_tokens = statistics.fmean(prefix_vote(p, size)[1] for p in pools)
    full = statistics.fmean(full_hits)
    table = Table(title=f"{args.model} · {len(pools)} questions · replayed on the n={size} pools")
    for column in ("method", "accuracy [95% CI]", f"Δ vs maj@{size}", "tokens/q",
                   f"× maj@{size}", "traces/q", "cut/q"):  # fmt: skip
        table.add_column(column, justify="right")

    def add(name: str, hits: list[float], tokens: float, traces: float, cut: float = 0) -> None:
        low, high = bootstrap_ci(hits)
        accuracy = statistics.fmean(hits)
        table.add_row(
            name, f"{accuracy:.1%} [{low:.0%}, {high:.0%}]", f"{100 * (accuracy - full):+.1f} pt",
            f"{tokens:.0f}", f"{tokens / full_tokens:.2f}", f"{traces:.1f}", f"{cut:.1f}",
        )  # fmt: skip

    for k in sorted({1, 4, size // 2, size}):
        votes = [prefix_vote(p, k) for p in pools]
        add(f"maj@{k}", [float(v[0]) for v in votes], statistics.fmean(v[1] for v in votes), k)
    for measure in ("mean", "lowest_group", "bottom10", "tail", "self_certainty"):
        hits = [float(weighted_hit(p, measure, size)) for p in pools]
        add(f"weighted by {measure}", hits, full_tokens, size)
    add("best-of-n by self-certainty", [float(certainty_hit(p, size)) for p in pools],
        full_tokens, size)  # fmt: skip
    runs: dict[str, DeepConfParams] = {}
    for keep, name in ((10.0, "low"), (90.0, "high")):
        for measure in ("lowest_group", "bottom10", "tail"):
            runs[f"offline {name} ({measure})"] = DeepConfParams(
                mode="offline", n=size, keep=keep, measure=measure
            )
        for window in (16, 32, 64):
            runs[f"online {name}, window {window}"] = DeepConfParams(
                n=size, keep=keep, window=window
            )
    runs["online low, warm-up 8"] = DeepConfParams(n=size, keep=10.0, warmup=8)
    runs["online low, τ 0.7"] = DeepConfParams(n=size, keep=10.0, consensus=0.7)
    runs["online high, τ 0.7"] = DeepConfParams(n=size, keep=90.0, consensus=0.7)
    for name, params in runs.items():
        results = [replay_deepconf(p, params) for p in pools]
        add(
            f"DeepConf {name}", [float(r[0]) for r in results],
            statistics.fmean(r[1] for r in results), statistics.fmean(r[2] for r in results),
            statistics.fmean(r[3] for r in results),
        )  # fmt: skip
    Console(width=140).print(table)
    for keep in (10.0, 90.0):
        print(phases(pools, DeepConfParams(n=size, keep=keep)))
    if args.live:
        compare_live(store, args.model, args.live, pools, size)


def phases(pools: list[Pool], params: DeepConfParams) -> str:
    """Where DeepConf online's tokens go, per question, without the consensus stop: the
    warm-up, the traces it stops (and where), the traces it keeps."""
    warm, stopped, stopped_tokens, kept_tokens = [], [], [], []
    for pool in pools:
        confidences = [summarize(c.per_token, c.self_certainty, params.window, params.tail)
                       for c in pool.confidences]  # fmt: skip
        cut_below = threshold([c.lowest_group for c in confidences[: params.warmup]], params.keep)
        warm.append(sum(pool.tokens[: params.warmup]))
        cuts = [first_cut(c.per_token, params.window, cut_below)
                for c in confidences[params.warmup : params.n]]  # fmt: skip
        stopped.append(sum(at is not None for at in cuts))
        stopped_tokens.append(sum(at for at in cuts if at is not None))
        later = pool.tokens[params.warmup : params.n]
        kept_tokens.append(sum(t for t, at in zip(later, cuts, strict=True) if at is None))
    mean = statistics.fmean
    each = mean(stopped_tokens) / max(mean(stopped), 1e-9)
    return (
        f"keep={params.keep:.0f}, window {params.window}: warm-up {mean(warm):.0f} tok/q; "
        f"{mean(stopped):.1f} traces/q stopped after {each:.0f} tokens each "
        f"({mean(stopped_tokens):.0f} tok/q); kept traces {mean(kept_tokens):.0f} tok/q"
    )


def compare_live(store: Store, model: str, config: str, pools: list[Pool], size: int) -> None:
    """The live online run vs its replay on the pools of the same questions."""
    rows = {
        r["question_id"]: r for r in store.results() if (r["model"], r["config"]) == (model, config)
    }
    same = [p for p in pools if p.question_id in rows]
    if not same:
        raise SystemExit(f"no {model} · {config} results on the pooled questions")
    params = parse_config(config).params
    assert isinstance(params, DeepConfParams)
    live = [rows[p.question_id] for p in same]
    cut = [sum(s["finish_reason"] == "cut" for s in store.samples(r["id"])) for r in live]
    drawn = [len(store.samples(r["id"])) for r in live]
    replayed = [replay_deepconf(p, params) for p in same]
    majority = [prefix_vote(p, size) for p in same]
    table = Table(title=f"{config} live vs replayed · the same {len(same)} questions")
    for column in ("run", "accuracy [95% CI]", "tokens/q", f"× maj@{size}", "traces/q", "cut/q"):
        table.add_column(column, justify="right")
    base = statistics.fmean(m[1] for m in majority)

    def add(name: str, hits: list[float], tokens: float, traces: float, cuts: float) -> None:
        low, high = bootstrap_ci(hits)
        accuracy = f"{statistics.fmean(hits):.1%} [{low:.0%}, {high:.0%}]"
        table.add_row(name, accuracy, f"{tokens:.0f}", f"{tokens / base:.2f}",
                      f"{traces:.1f}", f"{cuts:.1f}")  # fmt: skip

    add(f"maj@{size} (pool)", [float(m[0]) for m in majority], base, size, 0)
    add("replayed on the pool", [float(r[0]) for r in replayed],
        statistics.fmean(r[1] for r in replayed), statistics.fmean(r[2] for r in replayed),
        statistics.fmean(r[3] for r in replayed))  # fmt: skip
    add("live (new samples)", [float(r["verdict"] == "correct") for r in live],
        statistics.fmean(r["completion_tokens"] for r in live), statistics.fmean(drawn),
        statistics.fmean(cut))  # fmt: skip
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
