"""`tool_vote` on the scripted backend: normalised call votes, text answers as a class,
adaptive stopping, the bill of every candidate."""

from __future__ import annotations

import json

import pytest

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.backends.toolcalls import FUNCTION, parse_tool_calls
from thinktime.errors import ThinktimeError
from thinktime.strategies.tool_vote import call_key
from thinktime.types import Message, ReplyFormat, ToolCall

TOOLS = ReplyFormat(tools=(FUNCTION,))


def call(expression: str, spacing: str = " ") -> str:
    return (
        f'{{"name":{spacing}"calculator", "arguments": {{"expression":{spacing}"{expression}"}}}}'
    )


def run(script, **params):
    backend = FakeBackend(script)
    result = solve("What is 6*7?", backend=backend, strategy="tool_vote", params=params,
                   reply_format=TOOLS)  # fmt: skip
    return result, backend


def test_agreeing_first_candidates_stop_early_in_one_batched_call():
    result, backend = run([call("6*7"), call("6*7", spacing="")])
    assert result.details["samples_used"] == 2 and result.bill.samples == 2
    assert len(backend.calls) == 1 and backend.calls[0][0][0].n == 2  # one call, n=2
    assert result.samples[result.chosen].tool_calls[0].name == "calculator"
    assert result.details == {"samples_used": 2, "action": "tool_calls", "changed": False,
                              "params": result.details["params"]}  # fmt: skip


def test_disagreement_draws_the_rest_and_the_vote_can_change_the_action():
    result, backend = run([call("6+7"), call("6*7"), call("6*7"), call("6 * 7")])
    assert [r[0].n for r, _ in backend.calls] == [2, 2]  # first 2, then the other 2 of k=4
    assert result.bill.samples == 4
    assert result.votes == {'calculator({"expression": "6+7"})': 1.0,
                            'calculator({"expression": "6*7"})': 2.0,
                            'calculator({"expression": "6 * 7"})': 1.0}  # fmt: skip
    assert result.samples[result.chosen].tool_calls[0].arguments == '{"expression": "6*7"}'
    assert result.details["changed"] is True


def test_a_final_answer_is_its_own_class_grouped_by_answer_equivalence():
    result, _ = run(["The answer is 42.", call("6*7"), "It is \\boxed{42.0}", call("6*8")])
    assert result.votes["42"] == 2.0
    assert result.answer == "42" and result.details["action"] == "answer"
    assert result.samples[result.chosen].text == "The answer is 42."


def test_without_adaptive_all_k_are_drawn_at_once():
    result, backend = run([call("6*7")], n=3, adaptive=False)
    assert [r[0].n for r, _ in backend.calls] == [3]
    assert result.bill.samples == 3


def test_argument_order_and_spacing_do_not_split_a_vote():
    a = ToolCall("1", "add", '{"x": 1, "y": [2, 3]}')
    b = ToolCall("2", "add", '{ "y":[2,3],"x":1 }')
    assert call_key(a) == call_key(b)
    assert call_key(a) != call_key(ToolCall("3", "sub", a.arguments))


def test_bad_params_and_a_strategy_without_replies_are_refused():
    with pytest.raises(ThinktimeError, match="first"):
        run([call("1")], n=2, first=3)
    with pytest.raises(ThinktimeError, match="tool_vote"):
        solve("q", backend=FakeBackend(), strategy="cot", reply_format=TOOLS)
    with pytest.raises(ThinktimeError, match="plain"):
        solve("q", backend=FakeBackend(), strategy="self_consistency",
              after=(Message("tool", "1", tool_call_id="c"),))  # fmt: skip


def test_parser_leaves_what_is_not_a_call_alone():
    assert parse_tool_calls("not json {", TOOLS) == ("not json {", ())
    assert parse_tool_calls('{"name": "calculator", "arguments": "oops"}', TOOLS)[1] == ()
    assert parse_tool_calls(call("1"), ReplyFormat(tools=(FUNCTION,), tool_choice="none"))[1] == ()
    text, calls = parse_tool_calls(f"[{call('1')}, {call('2')}]", TOOLS)
    assert text == "" and [c.arguments for c in calls] == ['{"expression": "1"}',
                                                           '{"expression": "2"}']  # fmt: skip


def test_an_openai_compatible_server_gets_the_tools_and_its_calls_come_back_counted():
    import httpx2

    from thinktime.backends.openai_compat import OpenAIBackend
    from thinktime.sampling import SamplingParams
    from thinktime.types import Request

    seen = []

    def handler(request):
        seen.append(json.loads(request.content))
        reply = {"role": "assistant", "content": None, "tool_calls": [{"id": "call_9",
                 "type": "function", "function": {"name": "calculator",
                 "arguments": '{"expression": "6*7"}'}}]}  # fmt: skip
        return httpx2.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": reply}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
        })  # fmt: skip

    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    backend = OpenAIBackend("m", base_url="http://test/v1", http_client=client)
    fmt = ReplyFormat(tools=(FUNCTION,), forced="calculator", parallel_tool_calls=False)
    request = Request(messages=(Message("user", "6*7?"),), reply_format=fmt)
    [generation] = backend.generate([request], SamplingParams())
    body = seen[0]
    assert body["tools"] == [FUNCTION] and body["parallel_tool_calls"] is False
    assert body["tool_choice"] == {"type": "function", "function": {"name": "calculator"}}
    [completion] = generation.completions
    assert completion.tool_calls == (ToolCall("call_9", "calculator", '{"expression": "6*7"}'),)
    assert completion.completion_tokens == 12  # the server's count of this one choice
