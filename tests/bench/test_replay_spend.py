"""A replay bills the prompt prefills the live strategy pays, and `thinktime replay` takes
`--rule FAMILY:NAME=VALUE,…` and `--live CONFIG` (refusing bad ones in one line, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktime import solve
from thinktime.backends.fake import FakeBackend, render, tokenize
from thinktime.bench.replay import load_pools
from thinktime.bench.rules import parse_rule
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.cli import app
from thinktime.strategies.adaptive_consistency import AdaptiveParams
from thinktime.strategies.deepconf import DeepConfParams
from thinktime.tasks import Problem, Task

runner = CliRunner()
TRACES = [  # in drawn order: sure and unsure traces ("maybe" tokens are unsure), two answers
    "so \\boxed{4}", "hm \\boxed{6}", "maybe maybe maybe \\boxed{6}", "so so \\boxed{4}",
    "maybe \\boxed{4} maybe maybe", "ok \\boxed{6}", "so \\boxed{4}", "maybe maybe \\boxed{9}",
]  # fmt: skip
POOL = "self_consistency:n=8,top_logprobs=20"


def _confidence(token: str) -> float:
    return 0.5 if "maybe" in token else 5.0


def _pool(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The eight traces drawn whole as one bench pool of the question "q?"."""
    store = Store(tmp_path / "pool.db")
    task = Task("toy", [Problem("toy/0", "q?", "4")])
    run_sweep(task, {"fake": FakeBackend(TRACES, confidence=_confidence)}, [POOL], store)
    [pool] = load_pools(store, "fake", POOL)
    return pool


@pytest.mark.parametrize(
    "params",
    [
        DeepConfParams(n=8, warmup=2, batch=2, window=2, consensus=1.0),
        DeepConfParams(n=8, warmup=3, batch=3, window=2, keep=90),
        DeepConfParams(n=8, warmup=2, batch=3, window=3, consensus=0.7),
        DeepConfParams(mode="offline", n=8, keep=50, window=2),
    ],
)
def test_deepconf_replay_pays_the_prefills_of_the_live_calls(tmp_path, params):
    # FakeBackend bills a watched request as the engines draw it: one call, one prefill, per
    # trace, so the live bill's prompt tokens count the prefills
    backend = FakeBackend(TRACES, confidence=_confidence)
    live = solve("q?", backend=backend, strategy="deepconf", params=params.model_dump())
    prompt = len(tokenize(render(backend.calls[0][0][0])))
    spec = "deepconf:" + ",".join(f"{k}={v}" for k, v in params.model_dump().items())
    replayed = parse_rule(spec)(_pool(tmp_path))
    assert replayed is not None and replayed.completion_tokens == live.bill.completion_tokens
    assert replayed.prefills * prompt == live.bill.prompt_tokens  # one prefill per engine call
    if params.mode == "online":  # the warm-up call, then one call per watched trace
        assert replayed.prefills == 1 + live.details["traces"] - params.warmup


def test_adaptive_replay_pays_one_prefill_per_batch(tmp_path):
    params = AdaptiveParams(max_n=8, batch=3, rule="window", window=3)
    backend = FakeBackend(TRACES, confidence=_confidence)
    live = solve("q?", backend=backend, strategy="adaptive_consistency", params=params)
    replayed = parse_rule("adaptive:max_n=8,batch=3,rule=window,window=3")(_pool(tmp_path))
    assert replayed is not None and replayed.samples == live.details["samples_used"]
    assert replayed.prefills == len(backend.calls) == live.details["batches"]


# --- the command ---------------------------------------------------------------------------


def _store(tmp_path: Path, *configs: str) -> Path:
    """`thinktime bench` on the scripted model: six questions whose answer is 42."""
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": f"q{i}?", "answer": "42"}) + "\n"
                            for i in range(6)))  # fmt: skip
    store = tmp_path / "qa.db"
    bench = ["bench", "--task", f"jsonl:{data}", "-m", "fake", "--store", str(store)]
    result = runner.invoke(app, [*bench, *(a for c in configs for a in ("-s", c))])
    assert result.exit_code == 0, result.output
    return store


def test_replay_adds_each_rule_spec_as_a_row(tmp_path):
    store = _store(tmp_path, "self_consistency:n=8,top_logprobs=20")
    specs = ["maj:k=3", "deepconf:mode=online,keep=10,warmup=2", "adaptive:rule=beta,threshold=0.9"]
    args = ["replay", "--store", str(store), "--json", *(a for s in specs for a in ("--rule", s))]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rules = {r["rule"]: r for r in json.loads(result.stdout)["rules"]}
    assert set(specs) <= set(rules) and {"maj@4", "borda:self_certainty", "whole-text"} <= set(
        rules
    )
    assert rules["maj:k=3"]["samples"] == 3 and rules["maj:k=3"]["prefills"] == 1
    # every scripted answer agrees: DeepConf stops after its warm-up call of 2 traces
    assert rules["deepconf:mode=online,keep=10,warmup=2"]["samples"] == 2
    for row in rules.values():
        assert {"token_ratio", "total_token_ratio", "prefills", "total_tokens"} <= set(row)
    table = runner.invoke(app, ["replay", "--store", str(store), "--rule", "maj:k=3"],
                          env={"COLUMNS": "250"})  # fmt: skip
    assert "× with prompt" in table.output and "maj:k=3" in table.output


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("deepconf:keep=200", "bad replay rule 'deepconf:keep=200'"),
        ("adaptive:rule=gamma", "rule: Input should be 'beta' or 'window'"),
        ("maj", "bad replay rule 'maj': write maj:NAME=VALUE,… with NAME one of k (k: Field"),
        ("vote:k=3", "unknown replay rule 'vote:k=3'"),
        ("maj:k", "write maj:NAME=VALUE,… with NAME one of k"),
    ],
)
def test_replay_refuses_a_bad_rule_spec_in_one_line(tmp_path, spec, message):
    result = runner.invoke(app, ["replay", "--store", str(tmp_path / "none.db"), "--rule", spec])
    assert result.exit_code == 2 and message in result.output  # refused before the store opens
    assert result.output.count("error:") == 1 and "Traceback" not in result.output
    reference = runner.invoke(app, ["replay", "--store", "x.db", "--reference", spec])
    assert reference.exit_code == 2 and message in reference.output


def test_replay_compares_a_live_run_on_the_questions_it_answered(tmp_path):
    live_config = "deepconf:n=8,warmup=8"  # as many samples per question as the pool holds
    store = _store(tmp_path, POOL, live_config)
    args = ["replay", "--store", str(store), "--json", "--live", live_config]
    result = runner.invoke(app, [*args, "--rule", "deepconf:warmup=8"])
    assert result.exit_code == 0, result.output
    replay = json.loads(result.stdout)
    assert replay["config"] == POOL  # the pool replayed is never the live run itself
    rules = {r["rule"]: r for r in replay["rules"]}
    live, replayed = rules[f"live {live_config}"], rules["deepconf:warmup=8"]
    assert live["n"] == replayed["n"] == 6
    # the 8 warm-up traces are the whole run: one call each way
    assert (live["samples"], live["prefills"]) == (replayed["samples"], replayed["prefills"])
    assert live["prefills"] == 1 and live["tokens"] == replayed["tokens"]
    missing = runner.invoke(app, ["replay", "--store", str(store), "--live", "deepconf:n=4"])
    assert missing.exit_code == 2 and "no stored fake · deepconf:n=4 results" in missing.output


def test_replay_reads_a_held_out_range_of_questions(tmp_path):
    store = _store(tmp_path, POOL)

    def replayed(*extra: str) -> dict:  # type: ignore[type-arg]
        result = runner.invoke(app, ["replay", "--store", str(store), "--json", *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    assert replayed()["questions"] == 6
    held_out = replayed("--offset", "4")
    assert held_out["questions"] == 2 and {r["n"] for r in held_out["rules"]} == {2}
    assert replayed("--offset", "1", "--limit", "3")["questions"] == 3
    beyond = runner.invoke(app, ["replay", "--store", str(store), "--offset", "6"])
    assert beyond.exit_code == 2 and "skips every pooled question" in beyond.output


def test_a_confidence_rule_reads_the_first_k_samples_at_maj_k_tokens(tmp_path):
    pool = _pool(tmp_path)
    best4, maj4 = parse_rule("best:measure=mean,k=4")(pool), parse_rule("maj:k=4")(pool)
    assert best4 is not None and maj4 is not None
    assert (best4.samples, best4.completion_tokens) == (4, maj4.completion_tokens)
    # the first 4 traces alone decide it, never the later ones
    assert best4 == parse_rule("best:measure=mean")(pool.first(4))
    assert parse_rule("borda:k=9")(pool) is None  # the pool has 8


SURE = [
    "ok \\boxed{4}",
    "so \\boxed{6}",
    "maybe \\boxed{4}",
    "sure sure \\boxed{4}",
    "maybe \\boxed{6}",
]


def _sureness(token: str) -> float:
    return {"ok": 2.0, "maybe": 0.5, "sure": 8.0}.get(token.strip(), 5.0)


@pytest.mark.parametrize(("k", "right"), [(1, True), (2, False), (3, False), (4, True), (5, True)])
def test_best_of_k_by_self_certainty_replays_the_live_best_of_n(tmp_path, k, right):
    # the search strategy with a verifier, live, against its replay on the same draws: the
    # surest of the first k traces is right at k=1, wrong at 2-3 ("so 6"), right from 4 on
    live = solve("q?", backend=FakeBackend(SURE, confidence=_sureness), strategy="best_of_n",
                 n=k, verifier="self_certainty")  # fmt: skip
    store = Store(tmp_path / "pool.db")
    task = Task("toy", [Problem("toy/0", "q?", "4")])
    pool_config = "self_consistency:n=5,top_logprobs=20"
    run_sweep(task, {"fake": FakeBackend(SURE, confidence=_sureness)}, [pool_config], store)
    [pool] = load_pools(store, "fake", pool_config)
    replayed = parse_rule(f"best:measure=self_certainty,k={k}")(pool)
    assert (live.answer == "4") is right
    assert replayed is not None and replayed.correct is right
    assert replayed.completion_tokens == live.bill.completion_tokens
