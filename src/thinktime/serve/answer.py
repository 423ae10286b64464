"""The answer path of a chat request: typed `solve` arguments, each choice through `solve`, reply.

1) `solve_args` reads what the client asked for into one `SolveArgs`: the question and one typed
   `Call` (`thinktime.call.make_call`, the library's own checks) — the strategy (a
   `thinktime.strategy`, a `STRATEGY/MODEL` name, a `reasoning_effort` looked up in the effort
   table, else `plain`: the plain model), its parameters, the `SamplingParams` of each sample and
   the `Budget` of each choice (wire names as OpenAI means them: see `schemas.py`);
2) `run_choice` runs that call for one choice (`thinktime.api.run_call`, as `solve` does), so
   every answer — plain chat included — goes through the same ledger, budget and cancellation,
   and comes back with a bill;
3) `completion` turns the choices' `Result`s into the `ChatCompletion`, its `usage` the sum of
   their bills; the chosen sample's thinking is the message's reasoning, and a tool call the
   model wrote only inside its thinking, saying nothing after it, is still the reply's call.

    >>> from thinktime.backends.fake import FakeBackend
    >>> body = ChatRequest.model_validate({"model": "cot/qwen", "max_completion_tokens": 60,
    ...     "messages": [{"role": "user", "content": "2+3?"}]})
    >>> args = solve_args(body, ServerConfig(model="qwen"), engine="fake")
    >>> args.strategy, args.budget.max_completion_tokens, args.sampling.max_tokens
    ('cot', 60, 60)
    >>> result = run_choice(FakeBackend(["so \\\\boxed{5}"]), args, threading.Event())
    >>> reply = completion("chatcmpl-1", body.model, [result], args.budget)
    >>> reply.choices[0].message.content, reply.usage.completion_tokens
    ('5', 2)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from thinktime.api import run_call
from thinktime.backends.base import Backend, OnDelta
from thinktime.backends.thinking import THINK, ThinkTags
from thinktime.backends.toolcalls import parse_tool_calls
from thinktime.call import About, Call, CallError, make_call
from thinktime.compute.budget import Budget
from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams, sampling_params
from thinktime.serve.config import ServerConfig
from thinktime.serve.intake import BadRequest
from thinktime.serve.schemas import (
    ChatCompletion,
    ChatRequest,
    Choice,
    FinishReason,
    Message,
    ThinktimeAnswer,
    Usage,
)
from thinktime.serve.thinking import visible
from thinktime.serve.tools import WireToolCall
from thinktime.strategies import PLAIN, STRATEGIES, get_strategy
from thinktime.strategies.effort import effort_for
from thinktime.types import Bill, ReplyFormat, Result, Sample, ToolCall
from thinktime.types import Message as Turn

# `solve`'s own arguments: a client's `thinktime.params` cannot set them (the server does)
RESERVED = ("max_tokens", "temperature", "seed", "backend", "model", "question", "budget",
            "history", "cancel", "price", "on_call", "reasoning_effort", "strategy",
            "unsafe_exec")  # fmt: skip


@dataclass(frozen=True)
class SolveArgs:
    """What one request will run, for each of its choices: the question and one typed `Call`
    (validated here, once; the policy reads it, and every choice runs it as it is)."""

    call: Call  # the strategy, its params, each sample's sampling, the choice's budget, …
    question: str
    effort: str | None = None  # the reasoning_effort the strategy came from

    @property
    def strategy(self) -> str:
        """Resolved: `plain` for plain chat, the effort's strategy for an effort."""
        return self.call.strategy

    @property
    def params(self) -> BaseModel:
        """The strategy's parameters, validated once here and never again."""
        return self.call.params

    @property
    def sampling(self) -> SamplingParams:
        return self.call.sampling

    @property
    def budget(self) -> Budget:
        """Each choice's: its tokens, seconds and samples (`solve_args` always sets one)."""
        return self.call.budget or Budget()

    @property
    def reply_format(self) -> ReplyFormat | None:
        """Tools / response_format, as the engine is told."""
        return self.call.reply_format

    @property
    def samples(self) -> int:
        """The most samples one choice draws: the strategy's declaration on its params."""
        return self.call.drawn

    @property
    def verifier(self) -> str | None:
        """The one the client named (`thinktime.params.verifier`)."""
        return self.call.verifier if isinstance(self.call.verifier, str) else None

    def choice(self, index: int) -> SolveArgs:
        """The arguments of choice `index`: a seeded request's choices get seeds far apart, so n
        choices are n different answers, not n copies of one."""
        seed = self.sampling.seed
        if index == 0 or seed is None:
            return self
        shifted = (seed + index * CHOICE_SEED_STRIDE) % 2**32
        return replace(self, call=self.call.with_sampling(seed=shifted))


# the field of the request at fault, for each part of the call `make_call` refuses
AT_FAULT: dict[About, str | None] = {
    "strategy": "thinktime.strategy",
    "params": "thinktime.params",
    "sampling": None,  # each sample's fields were checked one by one already (`_sampling`)
    "budget": "thinktime.budget",
    "verifier": "thinktime.params.verifier",
    "reply_format": "thinktime.strategy",
}


def solve_args(
    body: ChatRequest, config: ServerConfig, engine: str, think_tags: ThinkTags | None = THINK
) -> SolveArgs:
    """The `SolveArgs` of `body`, or a `BadRequest` naming the field at fault (`think_tags`: where
    the model's thinking is in an earlier assistant turn's content, to leave it out)."""
    # 1) what the client named: a strategy (or none) and its parameters
    strategy = _named_strategy(body, config.model)
    params = _client_params(body)
    # 2) a reasoning_effort stands for a strategy, its parameters and a budget (explicit wins)
    effort = body.reasoning_effort if strategy is None else None
    budget: dict[str, Any] = {}
    if effort is not None:
        try:
            row = effort_for(effort, engine)
        except ThinktimeError as exc:
            raise BadRequest(str(exc), "reasoning_effort") from None
        strategy, params = row.strategy, {**row.params, **params}
        budget = row.budget.model_dump(exclude_none=True)
    # 3) each choice's budget, then each sample's parameters within it
    if body.thinktime and body.thinktime.budget:
        budget.update(body.thinktime.budget)
    the_budget = _choice_budget(body, budget, config)
    sampling = _sampling(body, the_budget, config)
    question, history, after = split_conversation(body, think_tags)
    # 4) the one typed call, every check in `make_call`, before admission: the policy, the
    #    stream and every choice get it as it is (a verifier only where the strategy scores)
    verifier = params.pop("verifier", None)
    try:
        call = make_call(strategy or PLAIN, params=params, sampling=sampling, budget=the_budget,
                         verifier=verifier, history=history, reply_format=body.reply_format(),
                         after=after, unsafe_exec=config.unsafe_exec)  # fmt: skip
    except CallError as exc:
        raise BadRequest(str(exc), AT_FAULT[exc.about]) from None
    return SolveArgs(call, question, effort)


def _client_params(body: ChatRequest) -> dict[str, Any]:
    """The strategy parameters the client sent, once nothing it may not ask for is asked."""
    options = body.thinktime
    params = dict(options.params) if options else {}
    reserved = sorted(set(params) & set(RESERVED))
    if reserved:
        raise BadRequest(
            f"thinktime.params cannot set {', '.join(reserved)}: use the request's own fields "
            "(max_completion_tokens, temperature, seed, thinktime.budget, thinktime.strategy)",
            f"thinktime.params.{reserved[0]}",
        )
    if "verifier" in params and not isinstance(params["verifier"], str):
        raise BadRequest("thinktime.params.verifier must be a verifier's name (a string)")
    unsupported = body.unsupported()
    if unsupported:
        raise BadRequest(
            f"{unsupported} is not supported by this server; leave it unset", unsupported
        )
    if body.stream and body.n > 1:
        raise BadRequest(
            "streaming returns one choice; send n=1 with stream, or stream=false for n>1", "n"
        )
    if options and options.n is not None:
        params["n"] = options.n
    return params


def _named_strategy(body: ChatRequest, served: str) -> str | None:
    """The strategy the request names (`thinktime.strategy`, else `STRATEGY/MODEL`), if any."""
    names = ", ".join(sorted(STRATEGIES))
    prefix, slash, name = body.model.partition("/")  # the served name may hold a "/" itself
    strategy = prefix if slash and prefix in STRATEGIES else None
    model = name if strategy else body.model
    if model not in (served, "thinktime"):
        raise BadRequest(
            f"unknown model {body.model!r}; this server serves {served!r}, optionally as "
            f"STRATEGY/{served} with STRATEGY one of: {names}",
            "model",
        )
    if body.thinktime and body.thinktime.strategy:
        strategy = body.thinktime.strategy
        if strategy not in STRATEGIES:
            raise BadRequest(
                f"unknown strategy {strategy!r}; choose one of: {names}", "thinktime.strategy"
            )
    return strategy


def _choice_budget(body: ChatRequest, asked: dict[str, Any], config: ServerConfig) -> Budget:
    """One choice's budget: what was asked (effort table, then `thinktime.budget`), held to
    the wire's `max_completion_tokens` and to the choice's share of the policy."""
    policy, wall = config.policy, config.wall_seconds
    tokens = [
        max(policy.max_completion_tokens // body.n, 1),
        asked.pop("max_tokens", None),  # Budget's alias, folded in here
        asked.get("max_completion_tokens"),
        body.completion_cap(),
    ]
    asked["max_completion_tokens"] = min(t for t in tokens if t is not None)
    asked["max_seconds"] = min(asked.get("max_seconds", wall), wall)
    samples = max(policy.max_samples // body.n, 1)
    asked["max_samples"] = min(asked.get("max_samples", samples), samples)
    try:
        return Budget(**asked)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["thinktime.budget", *map(str, first["loc"])])
        raise BadRequest(f"{where}: {first['msg']}", where) from None


def _sampling(body: ChatRequest, budget: Budget, config: ServerConfig) -> SamplingParams:
    """Each sample's parameters: the client's, and a cap of min(server default, the budget)."""
    total = budget.max_completion_tokens or config.default_max_tokens
    values: dict[str, Any] = {
        "temperature": body.temperature,  # unset: the strategy's own default
        "top_p": body.top_p,
        "seed": body.seed,
        "stop": body.stops() or None,
        "max_tokens": min(config.default_max_tokens, total),
        "max_thinking_tokens": _thinking_cap(body, config),
    }
    try:
        return sampling_params(**{k: v for k, v in values.items() if v is not None})
    except ThinktimeError as exc:
        raise BadRequest(str(exc)) from None


def _thinking_cap(body: ChatRequest, config: ServerConfig) -> int | None:
    """Each sample's thinking cap: the request's (under either name), held to the server's."""
    ours, vllms = body.max_thinking_tokens, body.thinking_token_budget
    if ours is not None and vllms is not None and ours != vllms:
        raise BadRequest(
            f"max_thinking_tokens ({ours}) and thinking_token_budget ({vllms}) differ; they "
            "are one cap under two names: send one of them",
            "thinking_token_budget",
        )
    caps = [c for c in (ours or vllms, config.max_thinking_tokens) if c is not None]
    return min(caps) if caps else None


def split_conversation(
    body: ChatRequest, think_tags: ThinkTags | None = THINK
) -> tuple[str, tuple[Turn, ...], tuple[Turn, ...]]:
    """(the last user message, every turn before it — system prompts as system turns —, the
    turns after it: an agent's calls and their results). An assistant turn's thinking (its
    `reasoning` fields, or `think_tags` in its content) is not passed on."""
    turns = tuple(
        Turn(
            "system" if m.role == "developer" else m.role,
            visible(m.text(), think_tags) if m.role == "assistant" else m.text(),
            tuple(call.value() for call in m.tool_calls or ()),
            m.tool_call_id,
        )
        for m in body.messages
    )
    last = max(i for i, turn in enumerate(turns) if turn.role == "user")
    return turns[last].content, turns[:last], turns[last + 1 :]


CHOICE_SEED_STRIDE = 1_000_003  # past any seed a ledger derives for one choice's calls


def run_choice(
    backend: Backend,
    args: SolveArgs,
    cancel: threading.Event,
    on_call: Callable[[Bill], None] | None = None,
    on_delta: OnDelta | None = None,
) -> Result:
    """One choice: the request's `Call` run as it is (in a worker thread: it blocks until
    done), through the same ledger, budget and cancellation as `solve`; the verifier the
    policy allowed (unset: the judge, for a strategy that scores)."""
    return run_call(args.call, args.question, backend, cancel=cancel, on_call=on_call,
                    on_delta=on_delta)  # fmt: skip


def reply(
    result: Result, budget: Budget, fmt: ReplyFormat | None = None
) -> tuple[Message, FinishReason, ThinktimeAnswer]:
    """(the message, its finish_reason, the `thinktime` extension) of one answered choice.

    The content is the extracted answer and the reasoning (`reasoning_content`, `reasoning`)
    the text it came from; with no answer extracted (strategy `plain`, or none found) the text
    itself is the content and the reasoning the model's thinking. Offered tools (`fmt`), a
    call written only inside the thinking is the reply's call (`calls_in_thinking`). The
    finish_reason is `length` when the budget or a sample's cap cut the work short; the answer
    is `budget_limited` when the budget did — the strategy stopped early, or a sample was cut
    at a cap that used up what the choice had left.
    """
    # the sample shown was cut short (or, with none chosen, any sample was)
    shown = result.samples if result.chosen is None else (result.samples[result.chosen],)
    cut = any(sample.finish_reason in ("length", "cancelled") for sample in shown)
    limited = result.budget_limited or (cut and budget.exceeded(result.bill))
    # a reasoning model's thinking (its `<think>` or `reasoning` field) comes before the text
    chosen = result.samples[result.chosen] if result.chosen is not None else None
    thinking = chosen.reasoning if chosen is not None else None
    worked = "\n\n".join(part for part in (thinking, result.text) if part)
    calls = chosen.tool_calls if chosen is not None else ()
    if chosen is not None and not calls:
        calls = calls_in_thinking(chosen, fmt)
    if calls or get_strategy(result.strategy).replies:  # the model's own message: text or calls
        message = Message(
            content=result.text or (None if calls else ""),
            tool_calls=[WireToolCall.of(call) for call in calls] or None,
            **_reasoning(thinking),
        )
    elif result.answer is not None:
        message = Message(content=result.answer, **_reasoning(worked))
    else:
        message = Message(content=result.text, **_reasoning(thinking))
    extension = ThinktimeAnswer(
        strategy=result.strategy,
        answer=result.answer,
        votes=result.votes,
        budget_limited=limited,
        bill=result.bill.to_dict(),
    )
    finish: FinishReason = "length" if cut or limited else "tool_calls" if calls else "stop"
    return message, finish, extension


def _reasoning(text: str | None) -> dict[str, str | None]:
    """The thinking under both of its names (the server sends those it is set to)."""
    return dict.fromkeys(("reasoning_content", "reasoning"), text or None)


def calls_in_thinking(sample: Sample, fmt: ReplyFormat | None) -> tuple[ToolCall, ...]:
    """The calls a model wrote inside its thinking and nowhere else: it closed its thinking
    and said nothing after it, so the call was its reply (vLLM lost these). A sample that says
    something after its thinking answered in words, and one cut off had not decided: their
    thinking stays thinking. The reasoning keeps the call as written either way.

    >>> from thinktime.backends.toolcalls import FUNCTION
    >>> thought = 'I need it. <tool_call>{"name": "calculator", "arguments": {"expression": "2*3"}}'
    >>> sample = Sample("", None, "stop", 9, 9, reasoning=thought)
    >>> [call.name for call in calls_in_thinking(sample, ReplyFormat(tools=(FUNCTION,)))]
    ['calculator']
    >>> calls_in_thinking(replace(sample, text="It is 6."), ReplyFormat(tools=(FUNCTION,)))
    ()
    """
    if fmt is None or not sample.reasoning or sample.text.strip():
        return ()
    if sample.finish_reason not in ("stop", "tool_calls"):
        return ()
    return parse_tool_calls(sample.reasoning, fmt)[1]


def completion(
    cid: str,
    model: str,
    results: Sequence[Result],
    budget: Budget,
    fmt: ReplyFormat | None = None,
) -> ChatCompletion:
    """The response to a request whose choices are `results` (each held to `budget`, offered
    `fmt`); usage is the sum of their bills."""
    choices, extensions = [], []
    for index, result in enumerate(results):
        message, finish, extension = reply(result, budget, fmt)
        choices.append(Choice(index=index, message=message, finish_reason=finish))
        extensions.append(extension)
    return ChatCompletion(
        id=cid,
        model=model,
        choices=choices,
        usage=Usage.billed([r.bill for r in results]),
        thinktime=extensions[0] if len(extensions) == 1 else extensions,
    )
