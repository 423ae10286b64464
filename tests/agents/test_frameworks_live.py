"""Real agent frameworks, unchanged, against a live `thinktime serve` on the real 0.5B model:
the OpenAI Agents SDK and LangChain's ChatOpenAI, each running a tool-using task to its end."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
MODEL = "qwen2.5-coder-0.5b"
CALLED: list[str] = []


def test_openai_agents_sdk_runs_a_tool_task(serve_url):
    from agents import (
        Agent,
        ModelSettings,
        OpenAIChatCompletionsModel,
        Runner,
        function_tool,
        set_tracing_disabled,
    )
    from openai import AsyncOpenAI

    from thinktime.agents.calculator import calculate

    set_tracing_disabled(True)  # nothing leaves the machine

    @function_tool
    def calculator(expression: str) -> str:
        """Evaluate an arithmetic expression and return its value.

        Args:
            expression: e.g. 37*91
        """
        CALLED.append(expression)
        return calculate(expression)

    model = OpenAIChatCompletionsModel(
        model=MODEL, openai_client=AsyncOpenAI(base_url=serve_url, api_key="unused")
    )
    agent = Agent(
        name="maths",
        instructions="Use the calculator tool for arithmetic.",
        model=model,
        tools=[calculator],
        model_settings=ModelSettings(temperature=0, max_tokens=64),
        tool_use_behavior="stop_on_first_tool",  # the tool's result is the agent's answer
    )
    result = Runner.run_sync(agent, "What is 37*91?", max_turns=3)
    assert CALLED and CALLED[-1].replace(" ", "") == "37*91"
    assert result.final_output == "3367"
    usage = result.context_wrapper.usage
    assert usage.requests >= 1 and usage.output_tokens > 0  # thinktime's usage, read by the SDK


def test_langchain_chat_openai_runs_a_tool_task(serve_url):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel

    from thinktime.agents.calculator import calculate

    @tool
    def calculator(expression: str) -> str:
        """Evaluate an arithmetic expression and return its value."""
        return calculate(expression)

    class Answer(BaseModel):
        answer: float

    llm = ChatOpenAI(model=MODEL, base_url=serve_url, api_key="unused", temperature=0,
                     max_tokens=64)  # fmt: skip
    messages = [HumanMessage("A shop has 37 boxes of 91 pens. Use the calculator: 37*91?")]
    # 1) the model calls the tool; LangChain parses the call
    reply = llm.bind_tools([calculator]).invoke(messages)
    [call] = reply.tool_calls
    assert call["name"] == "calculator"
    # 2) the tool runs; its result goes back as a ToolMessage
    messages += [reply, ToolMessage(calculator.invoke(call["args"]), tool_call_id=call["id"])]
    assert messages[-1].content == "3367"
    # 3) the final answer, structured (response_format json_schema through thinktime)
    final = llm.with_structured_output(Answer, method="json_schema").invoke(messages)
    assert final.answer == 3367
    assert reply.usage_metadata["output_tokens"] > 0
