"""Inspect AI, unchanged, with the `thinktime` provider: `inspect eval` on a 5-question task with
`thinktime/fake` (always) and with the real 0.5B (self_consistency n=4, `integration`), the log's
usage checked against thinktime's own bill; the `-M` args and the message mapping; and the
export of a bench store as Inspect logs that Inspect's reader opens.

    pytest -q tests/inspect_provider/test_provider.py                 # fast: the fake, the export
    pytest -q -m integration tests/inspect_provider/test_provider.py  # the real 0.5B (~2 minutes)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai._util.error import PrerequisiteError
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import (
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    ModelUsage,
)
from inspect_ai.tool import ToolInfo, ToolParam, ToolParams

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.errors import ThinktimeError
from thinktime.exports.inspect_log import write_inspect_log
from thinktime.inspect_provider import provider
from thinktime.inspect_provider.args import parse_model_args
from thinktime.inspect_provider.convert import conversation, sampling
from thinktime.tasks import Problem, Task

QUESTIONS = [
    ("Tom has 3 apples and buys 2 more apples. How many apples does Tom have now?", "5"),
    ("What is 6 times 7?", "42"),
    ("A box holds 40 pens and 2 more are added. How many pens are in the box?", "42"),
    ("Sara had 10 sweets and ate 4 of them. How many sweets are left?", "6"),
    ("What is 84 divided by 2?", "42"),
]
TASK = f"""
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate

@task
def five():
    samples = [Sample(input=q, target=t, id=i) for i, (q, t) in enumerate({QUESTIONS!r})]
    return Task(dataset=samples, solver=generate(), scorer=match(numeric=True))
"""
PRICES = """
[models.fake]
prompt_usd_per_mtok = 2.0
completion_usd_per_mtok = 8.0
"""


def inspect_eval(tmp_path: Path, model: str, *args: str) -> EvalLog:
    """`inspect eval` (the installed CLI, in a subprocess) on the five questions; its log."""
    (tmp_path / "five.py").write_text(TASK)
    (tmp_path / "prices.toml").write_text(PRICES)
    cli = Path(sys.executable).parent / "inspect"
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "inspect_ai"]
    env = {**os.environ, "THINKTIME_PRICES": str(tmp_path / "prices.toml")}
    done = subprocess.run(
        [*command, "eval", "five.py", "--model", f"thinktime/{model}", *args,
         "--log-dir", "logs", "--display", "plain"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(done.stdout)  # Inspect's own summary (pytest -s shows it)
    [log] = (tmp_path / "logs").glob("*.eval")
    return read_eval_log(str(log))


def assert_usage_is_the_bill(log: EvalLog, model: str, n: int) -> None:
    """Each sample's usage is its bill (tokens, reasoning, dollars); the eval's is their sum;
    the votes and the n samples are in the output's metadata."""
    assert log.status == "success" and log.samples and len(log.samples) == 5
    total = ModelUsage()
    for sample in log.samples:
        meta = sample.output.metadata["thinktime"]
        bill, usage = meta["bill"], sample.model_usage[model]
        assert usage.input_tokens + (usage.input_tokens_cache_read or 0) == bill["prompt_tokens"]
        assert usage.input_tokens_cache_read == (bill["cached_prompt_tokens"] or None)
        assert usage.output_tokens == bill["completion_tokens"]
        assert usage.total_tokens == bill["total_tokens"]
        assert usage.reasoning_tokens == bill["reasoning_tokens"]
        assert usage.total_cost == bill["dollars"]
        assert len(meta["samples"]) == bill["samples"] == n
        assert sum(meta["votes"].values()) <= n and meta["strategy"] == "self_consistency"
        assert sample.output.completion == (meta["answer"] or "")
        total = total + usage
    # Inspect adds the samples' dollars in the order they finished: floats, so compare the sum
    # to the cent's billionth rather than bit for bit.
    eval_usage = log.stats.model_usage[model]
    assert eval_usage.model_copy(update={"total_cost": None}) == total.model_copy(
        update={"total_cost": None}
    )
    assert eval_usage.total_cost == pytest.approx(total.total_cost, rel=1e-12)


def test_the_provider_is_registered_where_inspect_looks():
    [point] = [p for p in entry_points(group="inspect_ai") if p.name == "thinktime"]
    assert point.value == "thinktime.inspect_provider._registry"


def test_inspect_eval_with_the_fake_bills_what_thinktime_bills(tmp_path):
    log = inspect_eval(tmp_path, "fake", "-M", "strategy=self_consistency", "-M", "n=3")
    assert_usage_is_the_bill(log, "thinktime/fake", 3)
    assert log.eval.model_args == {"strategy": "self_consistency", "n": 3}
    # the fake always answers 42: three of the five targets
    assert log.results.scores[0].metrics["accuracy"].value == pytest.approx(0.6)
    # thinktime's own bill for the same question, strategy and model: the same tokens and cost
    question = QUESTIONS[1][0]
    [sample] = [s for s in log.samples if s.input == question]
    own = solve(question, model="fake", strategy="self_consistency", params={"n": 3})
    usage = sample.model_usage["thinktime/fake"]
    assert (usage.input_tokens, usage.output_tokens) == (own.bill.prompt_tokens, 3)
    dollars = (own.bill.prompt_tokens * 2.0 + own.bill.completion_tokens * 8.0) / 1e6
    assert usage.total_cost == pytest.approx(dollars) and dollars > 0
    assert sample.output.metadata["thinktime"]["votes"] == {"42": 3.0}


@pytest.mark.integration
def test_inspect_eval_with_the_real_model_self_consistency(tmp_path):
    log = inspect_eval(
        tmp_path, "qwen2.5-coder-0.5b", "-M", "strategy=self_consistency", "-M", "n=4",
        "--max-tokens", "160", "--seed", "7",
    )  # fmt: skip
    assert_usage_is_the_bill(log, "thinktime/qwen2.5-coder-0.5b", 4)
    assert log.results.scores[0].metrics["accuracy"].value >= 0.4  # easy questions


# ---------------------------------------------------------------- the -M args and the mapping


def test_model_args_split_into_strategy_params_and_backend_options():
    run = parse_model_args(
        "qwen2.5-coder-0.5b",
        {"strategy": "best_of_n", "n": 4, "verifier": "judge", "n_parallel": 8,
         "budget": {"max_completion_tokens": 900}},
    )  # fmt: skip
    assert (run.strategy, run.verifier, run.backend_options) == ("best_of_n", "judge", {
        "n_parallel": 8})  # fmt: skip
    assert run.params.n == 4 and run.budget.max_completion_tokens == 900


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"strategy": "cot", "beams": 2}, "bad parameters for strategy 'cot'"),
        ({"strategy": "self_consistency", "max_tokens": 9}, "pass Inspect's --max-tokens"),
        ({"reasoning_effort": "high"}, "pass Inspect's --reasoning-effort"),
        ({"budget": 100}, "-M budget takes a mapping"),
        ({"budget": {"max_dollars": -1}}, "bad -M budget: max_dollars"),
        ({"strategy": "no_such_strategy"}, "no_such_strategy"),
    ],
)
def test_bad_model_args_fail_when_inspect_builds_the_model(args, message):
    with pytest.raises(ThinktimeError, match=message.replace("(", r"\(")):
        parse_model_args("fake", args)


def test_inspect_shows_a_bad_model_arg_as_its_message():
    with pytest.raises(PrerequisiteError, match="thinktime/fake: bad parameters for strategy"):
        provider.ThinktimeAPI("fake", strategy="cot", beams=2)


def test_the_conversation_splits_at_the_last_user_turn():
    question, history, after = conversation(
        [
            ChatMessageSystem(content="Be brief."),
            ChatMessageUser(content="2+2?"),
            ChatMessageAssistant(content="4"),
            ChatMessageUser(content="And 3+3?"),
        ]
    )
    assert question == "And 3+3?" and after == ()
    assert [(m.role, m.content) for m in history] == [
        ("system", "Be brief."), ("user", "2+2?"), ("assistant", "4")]  # fmt: skip


def test_generate_config_sets_only_what_inspect_set():
    params = sampling(GenerateConfig(max_tokens=64, seed=3, stop_seqs=["###"]))
    assert params.model_dump(exclude_unset=True) == {"max_tokens": 64, "seed": 3, "stop": ("###",)}


def generate(api: provider.ThinktimeAPI, *messages, tools=(), choice="auto", **config):
    return asyncio.run(api.generate(list(messages), list(tools), choice, GenerateConfig(**config)))


def test_the_engine_is_built_once_per_provider(monkeypatch):
    built = []
    monkeypatch.setattr(
        provider, "make_backend", lambda spec, **o: built.append(spec) or FakeBackend()
    )
    api = provider.ThinktimeAPI("fake", strategy="self_consistency", n=2)
    for _ in range(3):
        output = generate(api, ChatMessageUser(content="What is 6 times 7?"), max_tokens=8)
    assert built == ["fake"]
    assert output.completion == "42" and output.stop_reason == "stop"
    assert output.message.content[0].reasoning == "\\boxed{42}"  # the text the answer came from


def test_a_tool_call_comes_back_as_inspect_tool_calls(monkeypatch):
    script = ['{"name": "add", "arguments": {"a": 2, "b": 3}}']
    monkeypatch.setattr(provider, "make_backend", lambda spec, **o: FakeBackend(script))
    api = provider.ThinktimeAPI("fake", strategy="plain")
    add = ToolInfo(
        name="add",
        description="Add two numbers.",
        parameters=ToolParams(properties={"a": ToolParam(type="integer"),
                                          "b": ToolParam(type="integer")}),
    )  # fmt: skip
    output = generate(api, ChatMessageUser(content="2+3?"), tools=[add])
    [call] = output.message.tool_calls
    assert (call.function, call.arguments, output.stop_reason) == ("add", {"a": 2, "b": 3},
                                                                   "tool_calls")  # fmt: skip


# ---------------------------------------------------------------- the store as Inspect logs


def test_a_bench_store_exports_as_inspect_logs_that_inspect_reads(tmp_path):
    task = Task("toy", [Problem(f"toy/{i}", f"What is {i} + 1?", str(i + 1)) for i in range(3)])
    store = Store(tmp_path / "r.db")
    backend = FakeBackend(lambda request, i: ["\\boxed{1}", "\\boxed{2}"][i % 2])
    run_sweep(task, {"fake": backend}, ["self_consistency:n=3", "cot"], store)
    paths = write_inspect_log(store, tmp_path / "logs")
    assert sorted(p.name for p in paths) == [
        "toy_fake_cot.eval",
        "toy_fake_self_consistency_n-3.eval",
    ]
    log = read_eval_log(str(tmp_path / "logs" / "toy_fake_self_consistency_n-3.eval"))
    rows = {r["question_id"]: r for r in store.results() if r["config"] == "self_consistency:n=3"}
    assert log.eval.model == "thinktime/fake" and log.eval.task == "toy"
    for sample in log.samples:
        row = rows[sample.id]
        meta = sample.metadata["thinktime"]
        assert sample.input == row["question"] and sample.target == row["gold"]
        assert sample.scores["thinktime"].value == ("C" if row["verdict"] == "correct" else "I")
        assert sample.output.completion == row["answer"]
        assert [s["answer"] for s in meta["samples"]] == ["1", "2", "1"]
        assert meta["votes"] == {"1": 2.0, "2": 1.0} and meta["majority"] == "1"
        usage = sample.model_usage["thinktime/fake"]
        assert (usage.input_tokens, usage.output_tokens) == (
            row["prompt_tokens"], row["completion_tokens"])  # fmt: skip
    correct = sum(r["verdict"] == "correct" for r in rows.values())
    assert log.results.scores[0].metrics["accuracy"].value == pytest.approx(correct / 3)
    tokens = sum(r["completion_tokens"] for r in rows.values())
    assert log.stats.model_usage["thinktime/fake"].output_tokens == tokens
    only = write_inspect_log(store, tmp_path / "one", config="cot")
    assert [p.name for p in only] == ["toy_fake_cot.eval"]
    with pytest.raises(ThinktimeError, match="no run of model 'gpt-9'; its models: fake"):
        write_inspect_log(store, tmp_path / "none", model="gpt-9")
