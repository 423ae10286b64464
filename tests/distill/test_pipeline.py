"""Distillation: trace filtering and export, rewards, GGUF export layout, before/after, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from thinktime.bench.store import SampleRow, Store
from thinktime.cli import app
from thinktime.distill.compare import compare, recovery
from thinktime.distill.gguf_export import _permute, gguf_name
from thinktime.distill.rewards import correctness_reward, format_reward, task_reward
from thinktime.distill.student import check_fits
from thinktime.distill.traces import TraceFilter, read_jsonl, select_traces, write_jsonl
from thinktime.errors import ThinktimeError
from thinktime.tasks import Problem, Task

runner = CliRunner()


def sample(text: str, answer: str | None, verdict: str, tokens: int = 10, finish: str = "stop"):
    return {
        "text": text,
        "answer": answer,
        "verdict": verdict,
        "finish_reason": finish,
        "completion_tokens": tokens,
    }


# q2 has no gold answer: its samples are verified by a strong majority instead
TASK = Task("toy", [Problem("q1", "What is 2+2?", "4"), Problem("q2", "What is 3*3?", "")])


def test_filter_keeps_only_verified_complete_short_unique_traces():
    rows = [
        {
            "question_id": "q1",
            "gold": "4",
            "samples": [
                sample("2+2=4 so \\boxed{4}", "4", "correct", tokens=8),
                sample("2+2 = 4  so \\boxed{4}", "4", "correct", tokens=9),  # same text, spaces
                sample("2+2=5 \\boxed{5}", "5", "wrong"),
                sample("2+2 is, let me think" * 50, None, "truncated", 600, finish="length"),
                sample("long but right " * 100 + "\\boxed{4}", "4", "correct", tokens=2000),
            ],
        }
    ]
    traces, report = select_traces(rows, TASK, TraceFilter(max_tokens=1024, per_question=3))
    assert [t.text for t in traces] == ["2+2=4 so \\boxed{4}"]
    assert report.dropped == {"duplicate": 1, "unverified": 2, "too long": 1}
    assert report.kept == 1 and report.seen == 5 and report.questions_kept == 1


def test_filter_caps_per_question_shortest_first_and_drops_correct_but_truncated():
    rows = [
        {
            "question_id": "q1",
            "gold": "4",
            "samples": [
                sample("long: 2+2=4 \\boxed{4}", "4", "correct", tokens=30),
                sample("2+2=4 \\boxed{4}", "4", "correct", tokens=5),
                sample("2+2=4 ... \\boxed{4}", "4", "correct", tokens=50, finish="length"),
            ],
        }
    ]
    traces, report = select_traces(rows, TASK, TraceFilter(per_question=1))
    assert [t.completion_tokens for t in traces] == [5]
    assert report.dropped == {"over per-question cap": 1, "truncated": 1}


def test_without_gold_a_strong_majority_verifies():
    agreeing = [sample(f"way {i}: \\boxed{{9}}", "9", "unknown") for i in range(3)]
    rows = [{"question_id": "q2", "gold": None, "samples": [*agreeing, sample("8", "8", "x")]}]
    traces, _ = select_traces(rows, TASK, TraceFilter(min_agreement=0.7, per_question=5))
    assert {t.answer for t in traces} == {"9"} and len(traces) == 3
    assert all(t.verified_by == "majority" for t in traces)
    # 3 of 4 = 0.75 is not enough at 0.8
    traces, report = select_traces(rows, TASK, TraceFilter(min_agreement=0.8))
    assert traces == [] and report.dropped == {"unverified": 4}


def test_export_is_prompt_completion_chat_and_round_trips(tmp_path):
    rows = [{"question_id": "q1", "gold": "4", "samples": [sample("2+2=4 \\boxed{4}", "4", "c")]}]
    rows[0]["samples"][0]["verdict"] = "correct"
    traces, _ = select_traces(rows, TASK, TraceFilter())
    path = write_jsonl(traces, tmp_path / "t.jsonl")
    (record,) = read_jsonl(path)
    assert [m["role"] for m in record["prompt"]] == ["system", "user"]
    assert record["prompt"][1]["content"] == "What is 2+2?"
    assert record["completion"] == [{"role": "assistant", "content": "2+2=4 \\boxed{4}"}]
    assert record["answer"] == "4" and record["verified_by"] == "gold"
    assert not list(tmp_path.glob("*.partial"))


def test_thinking_export_wraps_the_trace_and_asks_every_other_question_bare(tmp_path):
    from thinktime.backends.thinking import split_thinking
    from thinktime.distill.traces import Trace

    traces = [Trace(f"q{i}", "What is 2+2?", "2+2=4 \\boxed{4}", "4", 9, "gold") for i in range(4)]
    records = read_jsonl(write_jsonl(traces, tmp_path / "t.jsonl", think=True))
    prompts = [[m["role"] for m in r["prompt"]] for r in records]
    assert prompts == [["system", "user"], ["user"], ["system", "user"], ["user"]]
    reply = records[0]["completion"][0]["content"]
    # what the server and bench will make of the student's reply: thinking apart, answer after
    thinking, visible = split_thinking(reply)
    assert thinking == "2+2=4 \\boxed{4}"
    assert visible == "The answer is \\boxed{4}."


def test_empty_and_bad_datasets_are_clear_errors(tmp_path):
    with pytest.raises(ThinktimeError, match="no trace passed the filter"):
        write_jsonl([], tmp_path / "t.jsonl")
    with pytest.raises(ThinktimeError, match="trace file not found"):
        read_jsonl(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ThinktimeError, match="the dataset is empty"):
        read_jsonl(tmp_path / "empty.jsonl")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"messages": []}) + "\n")
    with pytest.raises(ThinktimeError, match=r"bad\.jsonl:1 is not a prompt-completion"):
        read_jsonl(tmp_path / "bad.jsonl")


def test_rewards_grade_like_the_bench():
    completions = [
        [{"role": "assistant", "content": "so the total is \\boxed{1,000}"}],
        [{"role": "assistant", "content": "I think 7"}],
        [{"role": "assistant", "content": "\\boxed{12}"}],
    ]
    assert correctness_reward(completions, answer=["1000", "8", "12"]) == [1.0, 0.0, 1.0]
    assert format_reward(completions) == [1.0, 0.0, 1.0]


def test_traces_and_rewards_grade_through_the_tasks_grader():
    """A task whose grader is not gold equivalence (like reasoning-gym's scorer) is obeyed."""
    from thinktime.verifiers.gold import ScorerVerifier

    def grader(problem: Problem) -> ScorerVerifier:  # "right" is any answer with a 7 in it
        return ScorerVerifier(lambda answer: float("7" in answer))

    task = Task("sevens", [Problem("q1", "Say a seven.", "7")], grader)
    rows = [
        {
            "question_id": "q1",
            "samples": [
                sample("it is 17 \\boxed{17}", "17", "wrong"),  # a stale stored verdict
                sample("it is 8 \\boxed{8}", "8", "correct"),
            ],
        }
    ]
    traces, report = select_traces(rows, task, TraceFilter(per_question=5))
    assert [t.answer for t in traces] == ["17"] and report.dropped == {"unverified": 1}
    reward = task_reward(task)
    assert reward(["\\boxed{17}", "\\boxed{8}"], question_id=["q1", "q1"]) == [1.0, 0.0]
    # the gold reward is what a gold task's grader says
    assert correctness_reward(["\\boxed{17}"], answer=["7"]) == [0.0]


def test_traces_of_an_unknown_question_are_dropped():
    rows = [{"question_id": "q9", "samples": [sample("\\boxed{1}", "1", "correct")]}]
    traces, report = select_traces(rows, TASK, TraceFilter())
    assert traces == [] and report.dropped == {"unknown question": 1}


def test_memory_check_refuses_a_student_that_does_not_fit():
    check_fits(500_000_000, 4, available=24 * 2**30)
    with pytest.raises(ThinktimeError, match="pick a smaller student"):
        check_fits(70_000_000_000, 2, available=24 * 2**30)


def test_gguf_names_and_llama_rotary_permutation_invert_transformers():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    assert gguf_name("model.layers.0.mlp.down_proj.weight", "llama", 30) == "blk.0.ffn_down.weight"
    assert gguf_name("model.layers.2.self_attn.k_proj.weight", "qwen2", 24) == (
        "blk.2.attn_k.weight"
    )
    with pytest.raises(ThinktimeError, match="no GGUF name"):
        gguf_name("model.layers.0.not_a_layer.weight", "llama", 30)
    # what we write, transformers' loader must read back unchanged (9 heads, 3 KV heads, dim 8)
    rng = np.random.default_rng(0)
    loader = LlamaTensorProcessor(config={"num_attention_heads": 9, "num_key_value_heads": 3})
    q = rng.normal(size=(72, 16)).astype(np.float32)
    k = rng.normal(size=(24, 16)).astype(np.float32)
    assert np.array_equal(loader.process(_permute(q, 9, 9), "blk.0.attn_q.weight").weights, q)
    assert np.array_equal(loader.process(_permute(k, 9, 3), "blk.0.attn_k.weight").weights, k)


def _arm(store: Store, model: str, correct: list[bool], flops: float) -> None:
    for i, ok in enumerate(correct):
        row = {
            "task": "gsm8k",
            "question_id": f"q{i}",
            "model": model,
            "config": "cot",
            "strategy": "cot",
            "params": {},
            "verdict": "correct" if ok else "wrong",
            "completion_tokens": 100,
            "flops": flops,
            "seconds": 1.0,
            "engine_seconds": 1.0,
        }
        store.add(row, [SampleRow("t", "1", row["verdict"], "stop", 100)])


def test_before_after_comparison():
    assert recovery(0.2, 0.3, 0.4) == pytest.approx(0.5)
    store = Store(":memory:")
    _arm(store, "base", [True, False, False, False], 1e9)
    _arm(store, "student", [True, True, False, False], 1e9)
    _arm(store, "teacher", [True, True, True, False], 3e9)
    arms = {"base": ("base", "cot"), "student": ("student", "cot"), "teacher": ("teacher", "cot")}
    result = compare(store, "gsm8k", arms)
    assert result.recovery == pytest.approx(0.5)
    assert result.compute_share == pytest.approx(1 / 3)
    assert "recovers 50% of the teacher's gain at 33% of its FLOPs" in result.headline()
    assert "| student | student | cot | 4 | 50.0%" in result.markdown()
    with pytest.raises(ThinktimeError, match="no results in the store for: teacher"):
        compare(store, "gsm8k", {**arms, "teacher": ("missing", "cot")})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["distill", "train", "--traces", "/nope/t.jsonl"], "trace file not found"),
        (["distill", "traces", "-m", "gpt-99"], "unknown model 'gpt-99'"),
        (["distill", "traces", "-s", "vote"], "unknown strategy"),
        (["distill", "grpo", "--model", "/nope/p.gguf"], "model file not found"),
        (["distill", "grpo", "-m", "qwen2.5-coder-0.5b-think"], "with a LoRA adapter the engine"),
        (["distill", "train", "-m", "/nope/s.gguf", "--traces", "/nope/t.jsonl"], "not found"),
        (["distill", "traces", "--min-agreement", "0.3"], "min_agreement"),
        (["distill", "eval", "--student", "/nope/s.gguf"], "model file not found"),
    ],
)
def test_distill_cli_errors(args, message, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "What is 2+2?", "answer": "4"}) + "\n")
    if args[1] != "train":
        args = [*args, "--task", f"jsonl:{questions}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")
