"""Request and response shapes of the OpenAI chat API, plus thinktime's own extras.

Unknown fields that OpenAI clients commonly send (`user`, `stream_options`, …) are ignored;
wrong types, out-of-range numbers and unknown strategies are 400s naming the field.

    >>> body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    >>> ChatRequest.model_validate(body).n
    1
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]]

    def text(self) -> str:
        """The message's text (text parts of a multi-part content list joined)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "text"
        )


class ThinktimeOptions(BaseModel):
    """The `thinktime` extra body field: choose the strategy and its compute directly."""

    model_config = ConfigDict(extra="forbid")
    strategy: str | None = None
    n: int | None = Field(None, ge=1, le=64)
    budget: dict[str, float] | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(..., min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=256)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    max_completion_tokens: int | None = Field(None, ge=1, le=32768)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=8)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)  # the engines' seeds are 32-bit
    stream: bool = False
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    thinktime: ThinktimeOptions | None = None

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages[-1].role != "user":
            raise ValueError("the last message must be from the user")
        if not messages[-1].text().strip():
            raise ValueError("the last user message is empty; send the question in it")
        return messages


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:  # fmt: skip
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
