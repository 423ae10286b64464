"""`thinktime replay`: every aggregation and stopping rule on a store's pools, at no compute.

Every registered rule is replayed; `--rule FAMILY:NAME=VALUE,…` adds one with its parameters
written out (checked by the strategy's own parameter model), and `--live CONFIG` adds a stored
live run as a row, replaying only the questions it answered, so live and replay are compared
on the same questions.

$ thinktime replay --store docs/results/deepconf/gsm8k-0.5b.db
$ thinktime replay --store runs/gsm8k.db -s self_consistency:n=16,top_logprobs=20 --json
$ thinktime replay --store runs/gsm8k.db --rule deepconf:keep=90,window=16 --rule maj:k=3
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thinktime.cli.common import (
    AsJson,
    console,
    fail,
    model_option,
    print_json,
    store_option,
    strategy_option,
)
from thinktime.errors import ThinktimeError


def replay(
    store: Annotated[str, store_option()],
    model: Annotated[
        str | None, model_option("The pool's model; default: the largest pool's.")
    ] = None,
    config: Annotated[
        str | None, strategy_option("The pool's config, as stored; default: the largest pool.")
    ] = None,
    reference: Annotated[
        str,
        typer.Option(help="The rule every other is compared with (a name or a --rule SPEC)."),
    ] = "maj@n",
    rule: Annotated[
        list[str] | None,
        typer.Option(
            "--rule",
            help="Add a rule with parameters, FAMILY:NAME=VALUE,… (repeatable), e.g. "
            "deepconf:mode=online,keep=10,warmup=8 · adaptive:rule=beta,threshold=0.9 · "
            "maj:k=8 · borda:p=1 · whole-text:threshold=0.9 · weighted:measure=tail · "
            "best:measure=mean.",
        ),
    ] = None,
    live: Annotated[
        str | None,
        typer.Option(
            help="A stored live run's config (e.g. deepconf:n=16) to add as a row; only the "
            "questions it answered are replayed."
        ),
    ] = None,
    offset: Annotated[
        int, typer.Option(min=0, help="Skip this many pooled questions first (question order).")
    ] = 0,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Replay at most this many pooled questions.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Replay every rule (maj@k, confidence-weighted and Borda votes, whole-text voting,
    DeepConf, adaptive stopping…) on stored pools, each against a reference rule on the same
    questions, with paired 95% CIs and token ratios with and without the prompt's prefills."""
    from thinktime.bench.paired import as_dict
    from thinktime.bench.replay import load_live, load_pools
    from thinktime.bench.rules import RULES, parse_rule, replay_table
    from thinktime.bench.show import replay_rules_table
    from thinktime.bench.store import Store
    from thinktime.render import show_table

    try:
        parse_rule(reference)
        added = {spec.strip(): parse_rule(spec) for spec in rule or ()}
        results = Store(store, create=False, readonly=True)
        model, config = _pool_of(results, model, config, live)
        pools = load_pools(results, model, config)
        # a held-out range, e.g. the questions drawn after a rule was chosen on the first ones
        pools = pools[offset : None if limit is None else offset + limit]
        if not pools:
            raise ThinktimeError(
                f"--offset {offset} skips every pooled question; pass a smaller --offset"
            )
        rules = {**RULES, **added}
        if live is not None:
            runs = load_live(results, model, live, pools)
            if not runs:
                raise ThinktimeError(
                    f"no stored {model} · {live} results on the pooled questions; "
                    "pass --live with a config the store holds for this model"
                )
            pools = [p for p in pools if p.question_id in runs]
            rules[f"live {live}"] = lambda pool: runs[pool.question_id]
        rows = replay_table(pools, reference, rules)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    if as_json:
        replayed = [{**row.__dict__, "versus": as_dict(row.versus)} for row in rows]
        print_json(
            {"model": model, "config": config, "reference": reference,
             "questions": len(pools), "offset": offset, "rules": replayed}
        )  # fmt: skip
        return
    show_table(console, replay_rules_table(rows, f"{model} · {config}", reference))


def _pool_of(
    results: Any, model: str | None, config: str | None, live: str | None = None
) -> tuple[str, str]:
    """The (model, config) to replay: as named, or the one with the largest pools (then the
    most questions), never the live run compared with them."""
    sizes: dict[tuple[str, str], tuple[int, int]] = {}
    for row in results.query(
        "SELECT model, config, max(n) AS n, count(*) AS q FROM (SELECT r.model, r.config, "
        "count(*) AS n FROM results r JOIN samples s ON s.result_id = r.id GROUP BY r.id) "
        "GROUP BY model, config"
    ):
        sizes[(row["model"], row["config"])] = (row["n"], row["q"])
    found = {
        key: size for key, size in sizes.items()
        if model in (None, key[0]) and config in (None, key[1]) and key[1] != live
    }  # fmt: skip
    if not found:
        known = "; ".join(f"{m} · {c}" for m, c in sizes) or "none"
        raise ThinktimeError(
            f"no stored pool for model {model or 'any'} and config {config or 'any'} "
            f"(the store has: {known}); pass -m/--model and -s/--strategy"
        )
    (best_model, best_config), (size, _) = max(found.items(), key=lambda item: item[1])
    if size < 2:
        raise ThinktimeError(
            f"{best_model} · {best_config} stored one sample per question: nothing to replay; "
            "draw a pool with e.g. -s self_consistency:n=16,top_logprobs=20"
        )
    return best_model, best_config
