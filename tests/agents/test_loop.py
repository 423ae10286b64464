"""The agent loop on the scripted backend: the calculator, tool calls run and fed back, loop
detection, and `thinktime bench` running a tool task with every step stored."""

from __future__ import annotations

import json

import pytest

from thinktime.agents.calculator import calculate
from thinktime.agents.loop import run_agent
from thinktime.agents.tools import definitions, run_call
from thinktime.backends.fake import FakeBackend
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.errors import ThinktimeError
from thinktime.tasks import Problem, Task
from thinktime.types import ToolCall


def call(expression: str) -> str:
    return json.dumps({"name": "calculator", "arguments": {"expression": expression}})


@pytest.mark.parametrize(
    ("expression", "value"),
    [("1,000 + 24", "1024"), ("7 / 2", "3.5"), ("-(3 - 5) * 2", "4"), ("10 // 3 % 2", "1"),
     ("0.1 + 0.2", "0.3"), ("2^5", "32")],
)  # fmt: skip
def test_the_calculator_computes(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('id')", "x + 1", "9**9**9", "1/0", "[1, 2]", "(" * 400,
     "10**29 * 10**29", "abs(-1)", "'a' * 3", "1e400 * 1e400"],
)  # fmt: skip
def test_the_calculator_refuses_what_is_not_arithmetic(expression):
    assert calculate(expression).startswith("error:")


def test_tools_answer_calls_and_bad_calls_with_a_readable_error():
    assert run_call(ToolCall("1", "calculator", '{"expression": "2*21"}'), ("calculator",)) == "42"
    assert run_call(ToolCall("1", "calculator", "[]"), ("calculator",)).startswith("error")
    with pytest.raises(ThinktimeError, match="unknown tool"):
        definitions(["shell"])


def test_the_python_tool_runs_in_the_sandbox():
    code = ToolCall("1", "python", json.dumps({"code": "print(6 * 7)"}))
    assert run_call(code, ("python",)) == "42"
    escape = ToolCall("2", "python", json.dumps({"code": "import socket; socket.socket()"}))
    assert run_call(escape, ("python",)).startswith("error")


def test_an_agent_calls_reads_the_result_and_answers():
    backend = FakeBackend([call("3*12"), call("36-10"), "So he has 26 apples. The answer is 26."])
    run = run_agent("3 baskets of 12, sells 10?", backend)
    assert run.answer == "26" and run.finished
    assert [s.outputs for s in run.steps] == [("36",), ("26",), ()]
    # each step saw the calls and results before it
    last = backend.calls[-1][0][0].messages
    assert [m.role for m in last] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert last[3].tool_call_id == last[2].tool_calls[0].id and last[3].content == "36"
    assert run.bill.samples == 3 and run.bill.calls == 3
    assert run.bill.completion_tokens == sum(s.bill.completion_tokens for s in run.steps)


def test_a_looping_agent_stops_with_its_result():
    backend = FakeBackend([call("37*91"), call("3367"), call("3367")])
    run = run_agent("37*91?", backend, max_steps=6)
    assert not run.finished and run.answer == "3367"
    assert len(run.steps) == 2  # 37*91 → 3367, then 3367 → 3367: nothing new, stop


def test_voted_steps_bill_every_candidate():
    backend = FakeBackend([call("6*7"), call("6+7"), call("6*7"), call("6*7"), "The answer is 42."])
    run = run_agent("6*7?", backend, strategy="tool_vote", params={"n": 4, "first": 2})
    assert run.steps[0].action == 'calculator({"expression": "6*7"})'
    assert run.steps[0].bill.samples == 4 and run.steps[0].changed is False
    assert run.bill.samples == sum(s.bill.samples for s in run.steps)


def test_bench_runs_a_tool_task_and_stores_each_step():
    task = Task("toy_tools", [Problem("t/0", "6*7?", "42")], tools=("calculator",))
    backend = FakeBackend([call("6 * 7"), "The answer is 42."])
    store = Store(":memory:")
    assert run_sweep(task, {"fake": backend}, ["plain"], store) == 1
    [result] = store.results()
    assert result["verdict"] == "correct" and result["answer"] == "42"
    steps = store.steps(result["id"])
    assert [s["action"] for s in steps] == ['calculator({"expression": "6 * 7"})', "42"]
    assert json.loads(steps[0]["outputs"]) == ["42"]
    assert json.loads(steps[0]["calls"])[0]["name"] == "calculator"
    assert sum(s["completion_tokens"] for s in steps) == result["completion_tokens"]
    with pytest.raises(ThinktimeError, match="tool_vote"):
        run_sweep(task, {"fake": backend}, ["cot"], store)


def test_a_version_2_store_gains_the_steps_table(tmp_path):
    import sqlite3

    from thinktime.bench.store import MIGRATIONS, _statements

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        for statement in _statements(script):
            db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    store = Store(path)
    assert store.version == len(MIGRATIONS) and store.steps(1) == []
    store.close()
