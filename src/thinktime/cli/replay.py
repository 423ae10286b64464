"""`thinktime replay`: every aggregation and stopping rule on a store's pools, at no compute.

$ thinktime replay --store docs/results/deepconf/gsm8k-0.5b.db
$ thinktime replay --store runs/gsm8k.db -s self_consistency:n=16,top_logprobs=20 --json
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
        str, typer.Option(help="The rule every other is compared with.")
    ] = "maj@n",
    as_json: AsJson = False,
) -> None:
    """Replay every rule (maj@k, confidence-weighted votes, DeepConf, adaptive stopping…) on
    stored pools, each against a reference rule on the same questions, with paired 95% CIs."""
    from thinktime.bench.paired import as_dict
    from thinktime.bench.replay import load_pools
    from thinktime.bench.rules import RULES, replay_table
    from thinktime.bench.show import replay_rules_table
    from thinktime.bench.store import Store
    from thinktime.render import show_table

    try:
        results = Store(store, create=False, readonly=True)
        RULES.get_or_fail(reference)
        model, config = _pool_of(results, model, config)
        rows = replay_table(load_pools(results, model, config), reference)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    if as_json:
        rules = [{**row.__dict__, "versus": as_dict(row.versus)} for row in rows]
        print_json({"model": model, "config": config, "reference": reference, "rules": rules})
        return
    show_table(console, replay_rules_table(rows, f"{model} · {config}", reference))


def _pool_of(results: Any, model: str | None, config: str | None) -> tuple[str, str]:
    """The (model, config) to replay: as named, or the one with the largest pools (then the
    most questions)."""
    sizes: dict[tuple[str, str], tuple[int, int]] = {}
    for row in results.query(
        "SELECT model, config, max(n) AS n, count(*) AS q FROM (SELECT r.model, r.config, "
        "count(*) AS n FROM results r JOIN samples s ON s.result_id = r.id GROUP BY r.id) "
        "GROUP BY model, config"
    ):
        sizes[(row["model"], row["config"])] = (row["n"], row["q"])
    found = {
        key: size for key, size in sizes.items()
        if model in (None, key[0]) and config in (None, key[1])
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
