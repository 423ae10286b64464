"""Tool calling and structured output on the wire, as OpenAI's chat API defines them.

A request may offer `tools` (function definitions with a JSON-schema `parameters`), choose how
they are used with `tool_choice` (`auto`, `none`, `required`, or `{"type": "function",
"function": {"name": F}}`) and `parallel_tool_calls`, and ask for JSON with `response_format`
(`json_object`, or `json_schema` with a schema). A conversation carries an agent's turns:
assistant messages with `tool_calls` (content null) and `tool` messages answering them by
`tool_call_id`. Everything is checked before any compute: an invalid JSON schema, a tool named
twice, a `tool_choice` naming no offered tool, a tool message answering no call → 400.

    >>> request = ToolRequest.model_validate({"tools": [{"type": "function",
    ...     "function": {"name": "add", "parameters": {"type": "object"}}}],
    ...     "tool_choice": {"type": "function", "function": {"name": "add"}}})
    >>> request.reply_format().forced
    'add'
    >>> ToolRequest.model_validate({"response_format": {"type": "json_schema",
    ...     "json_schema": {"name": "x", "schema": {"type": "bogus"}}}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    pydantic_core._pydantic_core.ValidationError: ...
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from jsonschema import SchemaError
from jsonschema.validators import validator_for
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from thinktime.types import ReplyFormat, ToolCall, ToolChoice

MAX_TOOLS = 128  # OpenAI's own limit on tools per request


def check_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` if it is a valid JSON schema (by the draft it names, else 2020-12)."""
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(map(str, exc.path)) or "the schema"
        raise ValueError(f"invalid JSON schema at {where}: {exc.message}") from None
    except Exception as exc:  # hostile input (an unhashable $schema, …) is a 400, never a 500
        raise ValueError(f"invalid JSON schema: {type(exc).__name__}") from None
    return schema


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(..., pattern=r"^[a-zA-Z0-9_-]{1,64}$", description="The function's name.")
    description: str | None = Field(None, max_length=8192)
    parameters: dict[str, Any] | None = Field(None, description="A JSON schema of the arguments.")
    strict: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _valid_parameters(cls, parameters: dict[str, Any] | None) -> dict[str, Any] | None:
        if parameters is None:
            return None
        if parameters.get("type", "object") != "object":
            raise ValueError('a function\'s parameters must be a JSON schema of "type": "object"')
        return check_schema(parameters)


class ToolDefinition(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(BaseModel):
    name: str


class NamedToolChoice(BaseModel):
    type: Literal["function"]
    function: FunctionName


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(..., pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None

    @field_validator("schema_")
    @classmethod
    def _valid(cls, schema: dict[str, Any]) -> dict[str, Any]:
        return check_schema(schema)


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError('response_format of type "json_schema" needs its json_schema')
        return self

    def wire(self) -> dict[str, Any] | None:
        """OpenAI's field as engines take it; None for plain text (nothing to hold to)."""
        if self.type == "text":
            return None
        if self.type == "json_object":
            return {"type": "json_object"}
        assert self.json_schema is not None
        schema = self.json_schema.model_dump(by_alias=True, exclude_none=True)
        return {"type": "json_schema", "json_schema": schema}


class WireFunctionCall(BaseModel):
    name: str = Field(..., min_length=1, max_length=64)
    arguments: str = Field(..., max_length=65536, description="The arguments as JSON text.")


class WireToolCall(BaseModel):
    """One call in an assistant message's `tool_calls`, in a request or a reply."""

    id: str = Field(..., min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: WireFunctionCall

    def value(self) -> ToolCall:
        return ToolCall(self.id, self.function.name, self.function.arguments)

    @classmethod
    def of(cls, call: ToolCall) -> WireToolCall:
        return cls(id=call.id, function=WireFunctionCall(name=call.name, arguments=call.arguments))


class DeltaFunctionCall(BaseModel):
    name: str | None = None
    arguments: str = ""


class DeltaToolCall(BaseModel):
    """A streamed piece of a call: `index` says which; id, type and name come with the first."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: DeltaFunctionCall

    @classmethod
    def whole(cls, index: int, call: ToolCall) -> DeltaToolCall:
        function = DeltaFunctionCall(name=call.name, arguments=call.arguments)
        return cls(index=index, id=call.id, type="function", function=function)


ToolChoiceField = Literal["none", "auto", "required"] | NamedToolChoice


class ToolRequest(BaseModel):
    """The tool and structured-output fields of a chat request, checked together."""

    model_config = ConfigDict(extra="ignore")
    tools: Annotated[list[ToolDefinition], Field(max_length=MAX_TOOLS)] | None = None
    tool_choice: ToolChoiceField | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ToolRequest:
        names = [tool.function.name for tool in self.tools or ()]
        if len(set(names)) < len(names):
            raise ValueError("tools: each function name may be defined once")
        choice = self.tool_choice
        if isinstance(choice, NamedToolChoice) and choice.function.name not in names:
            raise ValueError(
                f"tool_choice names function {choice.function.name!r}, which is not in tools"
            )
        if choice == "required" and not names:
            raise ValueError('tool_choice "required" needs tools to call')
        return self

    def reply_format(self) -> ReplyFormat | None:
        """What the engine is told: the tools and how to use them, and the JSON format."""
        tools = tuple(t.model_dump(exclude_none=True) for t in self.tools or ())
        response = self.response_format.wire() if self.response_format else None
        if not tools and response is None:
            return None
        choice: ToolChoice = "auto"
        forced = None
        if isinstance(self.tool_choice, NamedToolChoice):
            choice, forced = "required", self.tool_choice.function.name
        elif self.tool_choice is not None:
            choice = self.tool_choice
        parallel = True if self.parallel_tool_calls is None else self.parallel_tool_calls
        return ReplyFormat(tools, choice, forced, parallel, response)
