"""Tool calls between the wire and the engine: the constraint that forces a call, the parser
that finds calls in a model's text, and the text a call was written as (to count its tokens).

Small models do not always write the `<tool_call>` tags their chat template asks for:
Qwen2.5-Coder-0.5B answers a tool prompt with a bare `{"name": …, "arguments": …}` line, which
llama.cpp's own parser leaves in the content. So calls are read here, leniently but only for
the functions the request offered: `<tool_call>` blocks (Hermes / Qwen), else a reply that is
nothing but such JSON objects, one per line. Anything else is text.

    >>> fmt = ReplyFormat(tools=(FUNCTION,))
    >>> text, calls = parse_tool_calls('{"name": "calculator", "arguments": {"expression": "2*3"}}',
    ...                                fmt)
    >>> text, calls[0].name, calls[0].arguments
    ('', 'calculator', '{"expression": "2*3"}')
    >>> parse_tool_calls("The answer is 6.", fmt)
    ('The answer is 6.', ())
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from thinktime.types import ReplyFormat, ToolCall

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)

# an example tool, for the doctests here and in the modules that use this one
FUNCTION: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
}


def new_call_id() -> str:
    """A fresh id for a call the engine did not name (OpenAI's `call_…` shape)."""
    return f"call_{uuid.uuid4().hex[:24]}"


def call_schema(fmt: ReplyFormat) -> dict[str, Any]:
    """The JSON schema of one call the reply must be: `{"name": F, "arguments": {…}}` for the
    forced function, else for any offered one — what the engine's grammar holds it to.

    >>> call_schema(ReplyFormat(tools=(FUNCTION,), forced="calculator"))["properties"]["name"]
    {'const': 'calculator'}
    """
    options = []
    for tool in fmt.tools:
        function = tool["function"]
        if fmt.forced is not None and function["name"] != fmt.forced:
            continue
        options.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": function["name"]},
                    "arguments": function.get("parameters") or {"type": "object"},
                },
                "required": ["name", "arguments"],
            }
        )
    return options[0] if len(options) == 1 else {"anyOf": options}


def _call(data: Any, names: tuple[str, ...]) -> ToolCall | None:
    """`data` as a call of one of `names`, or None when it is not one."""
    if not isinstance(data, dict) or data.get("name") not in names:
        return None
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):  # already JSON text: keep it if it parses to an object
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(new_call_id(), str(data["name"]), json.dumps(arguments))


def _objects(text: str) -> list[Any] | None:
    """The JSON values of `text`, one or more in a row; None when it is anything else. A last
    object cut off mid-way (the sample ran into its token cap) is dropped, the whole ones kept.

    >>> _objects('{"a": 1}\\n{"b": 2}'), _objects('{"a": 1}\\n{"b": '), _objects("{} and text")
    ([{'a': 1}, {'b': 2}], [{'a': 1}], None)
    """
    decoder, position = json.JSONDecoder(), 0
    values: list[Any] = []
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            cut = values and text[position] == "{" and exc.pos >= len(text)  # ran out of text
            return values if cut else None
        values.append(value)
    return values


def parse_tool_calls(text: str, fmt: ReplyFormat) -> tuple[str, tuple[ToolCall, ...]]:
    """(the text left, the calls) of a reply that may call `fmt`'s tools (see module docs)."""
    names = fmt.names()
    if not fmt.calls_tools() or not text.strip():
        return text, ()
    # 1) tagged calls: the format the chat template teaches
    tagged = _TAGGED.findall(text)
    if tagged:
        calls = [
            c for b in tagged for v in (_objects(b) or []) if (c := _call(v, names)) is not None
        ]
        if calls:
            left = _TAGGED.sub("", text).strip()
            return left, tuple(calls if fmt.parallel_tool_calls else calls[:1])
    # 2) a reply that is only call objects (a bare line each, or a list of them)
    values = _objects(text.strip().removeprefix("```json").removesuffix("```"))
    if values and len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    if values:
        read = [_call(v, names) for v in values]
        found = tuple(c for c in read if c is not None)
        if len(found) == len(read):
            return "", found if fmt.parallel_tool_calls else found[:1]
    return text, ()


def calls_text(calls: tuple[ToolCall, ...]) -> str:
    """The calls as the model writes them (Hermes `<tool_call>` blocks): what a tokenizer
    counts when the engine returned them parsed.

    >>> calls_text((ToolCall("c1", "add", '{"a": 1}'),))
    '<tool_call>\\n{"name": "add", "arguments": {"a": 1}}\\n</tool_call>'
    """
    return "\n".join(
        f'<tool_call>\n{{"name": {json.dumps(c.name)}, "arguments": {c.arguments}}}\n</tool_call>'
        for c in calls
    )


def wire_calls(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]]:
    """The calls in OpenAI's `tool_calls` shape."""
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in calls
    ]


def read_wire_calls(items: list[dict[str, Any]] | None) -> tuple[ToolCall, ...]:
    """OpenAI's `tool_calls` (from a server's reply) as `ToolCall`s.

    >>> read_wire_calls([{"id": "c", "function": {"name": "f", "arguments": "{}"}}])
    (ToolCall(id='c', name='f', arguments='{}'),)
    """
    return tuple(
        ToolCall(
            str(item.get("id") or new_call_id()),
            str((item.get("function") or {}).get("name") or ""),
            str((item.get("function") or {}).get("arguments") or "{}"),
        )
        for item in items or ()
    )


def wire_fields(fmt: ReplyFormat | None) -> dict[str, Any]:
    """The reply format as OpenAI's request fields (what an OpenAI-compatible server takes).

    >>> wire_fields(ReplyFormat(tools=(FUNCTION,), forced="calculator"))["tool_choice"]
    {'type': 'function', 'function': {'name': 'calculator'}}
    """
    if fmt is None:
        return {}
    fields: dict[str, Any] = {}
    if fmt.tools:
        fields["tools"] = list(fmt.tools)
        fields["tool_choice"] = (
            {"type": "function", "function": {"name": fmt.forced}}
            if fmt.forced is not None
            else fmt.tool_choice
        )
        fields["parallel_tool_calls"] = fmt.parallel_tool_calls
    if fmt.response_format is not None:
        fields["response_format"] = fmt.response_format
    return fields


def constrained_body(body: dict[str, Any], fmt: ReplyFormat | None) -> dict[str, Any]:
    """An engine body whose reply must be a tool call (`required`, a named function) held to
    the call's JSON schema by the engine's grammar (`response_format`) — llama.cpp's own
    `required` does not constrain a model that writes no `<tool_call>` tags.

    >>> body = constrained_body({}, ReplyFormat(tools=(FUNCTION,), tool_choice="required"))
    >>> body["tool_choice"], body["response_format"]["type"]
    ('auto', 'json_schema')
    """
    if fmt is not None and fmt.must_call():
        schema = {"name": "tool_call", "schema": call_schema(fmt)}
        body = {**body, "response_format": {"type": "json_schema", "json_schema": schema}}
        body["tool_choice"] = "auto"  # the schema decides; the template still shows the tools
    return body
