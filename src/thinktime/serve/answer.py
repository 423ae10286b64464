"""The answer path of a chat request: plan it, run each choice through `solve`, reply.

1) `plan_request` reads what the client asked for into one `Plan`: the strategy (a
   `thinktime.strategy`, a `STRATEGY/MODEL` name, a `reasoning_effort` looked up in the effort
   table, else `none`: the plain model), its parameters, the `SamplingParams` of each sample and
   the `Budget` of each choice (wire names as OpenAI means them: see `schemas.py`);
2) `run_choice` answers one choice with `solve`, so every answer — plain chat included — goes
   through the same ledger, budget and cancellation, and comes back with a bill;
3) `completion` turns the choices' `Result`s into the `ChatCompletion`, its `usage` the sum of
   their bills.

    >>> from thinktime.backends.fake import FakeBackend
    >>> body = ChatRequest.model_validate({"model": "cot/qwen", "max_completion_tokens": 60,
    ...     "messages": [{"role": "user", "content": "2+3?"}]})
    >>> plan = plan_request(body, ServerConfig(model="qwen"), engine="fake")
    >>> plan.strategy, plan.budget.max_completion_tokens, plan.sampling.max_tokens
    ('cot', 60, 60)
    >>> result = run_choice(FakeBackend(["so \\\\boxed{5}"]), plan, threading.Event())
    >>> reply = completion("chatcmpl-1", body.model, [result], plan.budget)
    >>> reply.choices[0].message.content, reply.usage.completion_tokens
    ('5', 2)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from thinktime.api import solve
from thinktime.backends.base import Backend, OnDelta
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
from thinktime.serve.tools import WireToolCall
from thinktime.strategies import PLAIN, STRATEGIES, get_strategy, strategies_that
from thinktime.strategies.effort import effort_for
from thinktime.types import Bill, ReplyFormat, Result
from thinktime.types import Message as Turn

# `solve`'s own arguments: a client's `thinktime.params` cannot set them (the server does)
RESERVED = ("max_tokens", "temperature", "seed", "backend", "model", "question", "budget",
            "history", "cancel", "price", "on_call", "reasoning_effort", "strategy",
            "unsafe_exec")  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What one request will run, for each of its choices."""

    strategy: str  # resolved: `none` for plain chat, the effort's strategy for an effort
    params: BaseModel  # the strategy's parameters, validated once here and never again
    sampling: SamplingParams  # each sample; fields the client left unset are not set here
    budget: Budget  # each choice: its tokens, seconds and samples
    question: str
    history: tuple[Turn, ...]
    effort: str | None = None  # the reasoning_effort the strategy came from
    reply_format: ReplyFormat | None = None  # tools / response_format, as the engine is told
    after: tuple[Turn, ...] = ()  # an agent's turns after the question: its calls, their results
    # the most samples one choice draws: the strategy's declaration on its validated params
    samples: int = 1
    unsafe_exec: bool = False  # the operator's --unsafe-exec, for a verifier that runs code
    verifier: str | None = None  # the one the client named (`thinktime.params.verifier`)

    def choice(self, index: int) -> Plan:
        """The plan of choice `index`: a seeded request's choices get seeds far apart, so n
        choices are n different answers, not n copies of one."""
        seed = self.sampling.seed
        if index == 0 or seed is None:
            return self
        shifted = self.sampling.with_(seed=(seed + index * CHOICE_SEED_STRIDE) % 2**32)
        return replace(self, sampling=shifted)


def plan_request(body: ChatRequest, config: ServerConfig, engine: str) -> Plan:
    """The `Plan` of `body`, or a `BadRequest` naming the field at fault."""
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
    strategy = strategy or PLAIN
    # 3) the parameters parsed now, once, before admission: the policy, the stream and solve
    #    get them typed; a verifier only where the strategy scores with one
    verifier = params.pop("verifier", None)
    try:
        spec = get_strategy(strategy)
        typed = spec.parse_params(params)
    except ThinktimeError as exc:
        raise BadRequest(str(exc), "thinktime.params") from None
    if verifier is not None and not spec.takes_verifier(typed):
        users = strategies_that(lambda s: s.uses_verifier)
        raise BadRequest(
            f"strategy {strategy!r} takes no verifier; strategies that do: {users}",
            "thinktime.params.verifier",
        )
    # 4) each choice's budget, then each sample's parameters within it
    if body.thinktime and body.thinktime.budget:
        budget.update(body.thinktime.budget)
    the_budget = _choice_budget(body, budget, config)
    question, history, after = split_conversation(body)
    fmt = body.reply_format()
    if (fmt is not None or after) and not spec.replies:
        replying = strategies_that(lambda s: s.replies)
        raise BadRequest(
            f"strategy {strategy!r} writes its own prompt and answer, so it cannot take tools, "
            f"response_format or tool results; use one of: {replying}",
            "thinktime.strategy",
        )
    return Plan(spec.name, typed, _sampling(body, the_budget, config), the_budget, question,
                history, effort, fmt, after, samples=spec.samples_drawn(typed),
                unsafe_exec=config.unsafe_exec, verifier=verifier)  # fmt: skip


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
    }
    try:
        return sampling_params(**{k: v for k, v in values.items() if v is not None})
    except ThinktimeError as exc:
        raise BadRequest(str(exc)) from None


def split_conversation(body: ChatRequest) -> tuple[str, tuple[Turn, ...], tuple[Turn, ...]]:
    """(the last user message, every turn before it — system prompts as system turns —, the
    turns after it: an agent's calls and their results)."""
    turns = tuple(
        Turn(
            "system" if m.role == "developer" else m.role,
            m.text(),
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
    plan: Plan,
    cancel: threading.Event,
    on_call: Callable[[Bill], None] | None = None,
    on_delta: OnDelta | None = None,
) -> Result:
    """One choice, answered by `solve` (in a worker thread: it blocks until done) with the
    plan's typed params as they are; the verifier the policy allowed (unset, solve gives the
    judge to a strategy that scores)."""
    return solve(
        plan.question,
        backend=backend,
        strategy=plan.strategy,
        params=plan.params,
        sampling=plan.sampling,
        budget=plan.budget,
        verifier=plan.verifier,
        unsafe_exec=plan.unsafe_exec,
        history=plan.history,
        reply_format=plan.reply_format,
        after=plan.after,
        cancel=cancel,
        on_call=on_call,
        on_delta=on_delta,
    )


def reply(result: Result, budget: Budget) -> tuple[Message, FinishReason, ThinktimeAnswer]:
    """(the message, its finish_reason, the `thinktime` extension) of one answered choice.

    The content is the extracted answer and `reasoning_content` the text it came from; with
    no answer extracted (strategy `none`, or none found) the text itself is the content. The
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
    worked = "\n\n".join(part for part in (thinking, result.reasoning) if part)
    calls = chosen.tool_calls if chosen is not None else ()
    if calls or get_strategy(result.strategy).replies:  # the model's own message: text or calls
        message = Message(
            content=result.reasoning or (None if calls else ""),
            reasoning_content=thinking or None,
            tool_calls=[WireToolCall.of(call) for call in calls] or None,
        )
    elif result.answer is not None:
        message = Message(content=result.answer, reasoning_content=worked or None)
    else:
        message = Message(content=result.reasoning, reasoning_content=thinking or None)
    extension = ThinktimeAnswer(
        strategy=result.strategy,
        answer=result.answer,
        votes=result.votes,
        budget_limited=limited,
        bill=result.bill.to_dict(),
    )
    finish: FinishReason = "length" if cut or limited else "tool_calls" if calls else "stop"
    return message, finish, extension


def completion(cid: str, model: str, results: Sequence[Result], budget: Budget) -> ChatCompletion:
    """The response to a request whose choices are `results` (each held to `budget`); usage is
    the sum of their bills."""
    choices, extensions = [], []
    for index, result in enumerate(results):
        message, finish, extension = reply(result, budget)
        choices.append(Choice(index=index, message=message, finish_reason=finish))
        extensions.append(extension)
    return ChatCompletion(
        id=cid,
        model=model,
        choices=choices,
        usage=Usage.billed([r.bill for r in results]),
        thinktime=extensions[0] if len(extensions) == 1 else extensions,
    )
