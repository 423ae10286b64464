"""What every strategy gets (`Context`), returns (`Outcome`), and how it is registered.

A strategy is a function `run(question, ctx, params) -> Outcome` plus a `StrategySpec` naming it,
with a one-line description, its paper, and a typed parameter model. Built-ins register with
the same decorator a plugin would use:

    >>> from pydantic import BaseModel
    >>> class NoParams(BaseModel): pass
    >>> @register_strategy("echo", "Repeat the question.", "—", NoParams)
    ... def echo(question, ctx, params):
    ...     return Outcome(answer=question, samples=())
    >>> STRATEGIES["echo"].description
    'Repeat the question.'
    >>> del STRATEGIES["echo"]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from thinktime.answers.confidence import MIN_ALTERNATIVES, trace_confidence
from thinktime.answers.extract import extract_answer, reasoning_tokens
from thinktime.answers.voting import vote
from thinktime.backends.base import ChatTemplating, Watch
from thinktime.compute.ledger import Ledger, Purpose
from thinktime.errors import ThinktimeError
from thinktime.prompts import cot_messages
from thinktime.registry import Registry
from thinktime.sampling import SamplingParams
from thinktime.types import Completion, Message, ReplyFormat, Request, Sample
from thinktime.verifiers.base import Verifier

DRAW_WORKERS = 16  # runs of a composed sampler `Context.draw` keeps going at once
# one chain-of-thought sample (`cot`): what runs when no strategy is named, and what a composed
# strategy samples unless told another (`Context.draw` makes n of them in one request)
DEFAULT_STRATEGY = "cot"
PLAIN = "plain"  # the plain model in one call: plain chat on a server, an agent's default step


@dataclass
class Context:
    """The dependencies a strategy runs with: a metered backend, sampling params, a verifier."""

    ledger: Ledger
    params: SamplingParams
    verifier: Verifier | None = None
    history: tuple[Message, ...] = ()  # earlier turns (and the caller's system prompt)
    # an agent's conversation: what the model's samples may be (tools, a JSON schema), and the
    # turns after the question (its tool calls and their results); only strategies that
    # reply with the model's message as it is (`StrategySpec.replies`) are given them
    reply_format: ReplyFormat | None = None
    after: tuple[Message, ...] = ()

    def messages(self, question: str) -> tuple[Message, ...]:
        """The chain-of-thought prompt for `question`, after the conversation so far."""
        return cot_messages(question, self.history)

    def conversation(self, question: str) -> tuple[Message, ...]:
        """The conversation exactly as the caller sent it: earlier turns, the question, then
        the agent's turns after it."""
        return (*self.history, Message("user", question), *self.after)

    def exhausted(self) -> bool:
        """True when the budget is spent: stop and return the best answer so far."""
        return self.ledger.exhausted()

    def sample(
        self,
        prompts: Sequence[tuple[Message, ...]],
        n: int = 1,
        params: SamplingParams | None = None,
        purpose: Purpose = "answer",
        answered: bool = True,
        watch: Watch | None = None,
    ) -> list[list[Sample]]:
        """n samples for each prompt, all in one batched engine call; answers extracted (from
        what follows a reasoning model's thinking, which the sample keeps as `reasoning`).

        `answered` False: the texts are plain replies (plain chat): no answer is extracted, and
        only the thinking counts as reasoning tokens. `watch` sees each sample's tokens as they
        come and may stop it (`Ledger.generate`)."""
        fmt = self.reply_format if purpose == "answer" else None  # a verifier answers in text
        requests = [Request(messages=messages, n=n, reply_format=fmt) for messages in prompts]
        generations = self.ledger.generate(
            requests, params or self.params, purpose=purpose, answered=answered, watch=watch
        )
        return [[as_sample(c, answered) for c in g.completions] for g in generations]

    def draw(
        self,
        question: str,
        n: int,
        sampler: str = DEFAULT_STRATEGY,
        sampler_params: Inner = None,
    ) -> list[Sample]:
        """n candidate solutions of `question`, each made by the strategy `sampler` with
        `sampler_params` (typed: a composed strategy's `inner_params`, parsed once with its
        own; a mapping is parsed here).

        `cot` samples are one batched request. Any other strategy runs n times concurrently,
        so the engine still batches their calls; each run contributes its chosen sample,
        carrying that run's answer (composition: e.g. votes over budget-forced samples).
        """
        if plain_cot(sampler, sampler_params):
            [samples] = self.sample([self.messages(question)], n=n)
            return samples
        spec = get_strategy(sampler)
        params = typed_inner(spec, sampler_params)

        def one(_: int) -> Sample:
            outcome = spec.run(question, self, params)
            if outcome.chosen is None:
                return Sample("", None, "stop", 0, 0)
            return replace(outcome.samples[outcome.chosen], answer=outcome.answer)

        with ThreadPoolExecutor(
            max_workers=min(n, DRAW_WORKERS), thread_name_prefix=sampler
        ) as pool:
            return list(pool.map(one, range(n)))

    def chat_prompt(self, messages: tuple[Message, ...]) -> str:
        """The raw text the model sees for `messages`, ready to be continued."""
        backend = self.ledger.backend
        if not isinstance(backend, ChatTemplating):
            raise ThinktimeError(
                f"backend {backend.name!r} cannot render its chat template, which "
                "this strategy needs to continue a partial answer; use the llamacpp backend"
            )
        return backend.chat_prompt(messages)

    def continue_text(
        self,
        prompts: Sequence[str],
        n: int = 1,
        params: SamplingParams | None = None,
        purpose: Purpose = "answer",
    ) -> list[list[Completion]]:
        """n continuations of each raw prompt, all in one batched engine call."""
        requests = [Request(prompt=prompt, n=n) for prompt in prompts]
        generations = self.ledger.generate(requests, params or self.params, purpose=purpose)
        return [list(g.completions) for g in generations]


def as_sample(completion: Completion, answered: bool = True) -> Sample:
    """A completion as a strategy's sample: its answer extracted (from what follows any
    thinking) and its reasoning tokens counted; `answered` False: a plain reply, no answer."""
    return Sample(
        text=completion.text,
        answer=extract_answer(completion.text) if answered else None,
        finish_reason=completion.finish_reason,
        completion_tokens=completion.completion_tokens,
        reasoning_tokens=reasoning_tokens(completion, answered),
        reasoning=completion.reasoning,
        tool_calls=completion.tool_calls,
        confidence=_confidence(completion),
    )


def _confidence(completion: Completion) -> Any:
    """The trace's confidence summaries, when the engine returned top-k alternatives, k ≥ 2
    for every token (with one, the "mean of the top-k" is the sampled token's own logprob:
    surprisal, whose direction is the opposite of confidence)."""
    logprobs = completion.logprobs
    if not logprobs or not all(len(token.top) >= MIN_ALTERNATIVES for token in logprobs):
        return None
    return trace_confidence(logprobs)


@dataclass(frozen=True)
class Outcome:
    """What a strategy decided; `solve` adds the bill and wraps it into a `Result`."""

    answer: str | None
    samples: tuple[Sample, ...]
    votes: dict[str, float] = field(default_factory=dict)
    chosen: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def majority(
    samples: Sequence[Sample],
    details: dict[str, Any] | None = None,
    weights: Sequence[float] | None = None,
) -> Outcome:
    """The majority vote over `samples` (each counting its weight, default 1) as an Outcome;
    the shown sample is the first that reached the winning answer (the winner is the
    first-seen member of its class, so one does).
    """
    winner, table = vote([s.answer for s in samples], weights)
    chosen = next((i for i, s in enumerate(samples) if s.answer == winner), None)
    return Outcome(
        answer=winner,
        samples=tuple(samples),
        votes=table,
        chosen=None if winner is None else chosen,
        details=details or {},
    )


StrategyFn = Callable[[str, Context, Any], Outcome]
Samples = Callable[[Any], int]  # the strategy's params → samples one question holds at once
# the strategy's params → (prompt, completion) tokens of one answer, in prompts and samples
Tokens = Callable[[Any], tuple[float, float]]


def one_sample(params: Any) -> int:
    """The default declaration: one sample at a time (cot, budget forcing, verify-revise)."""
    return 1


# a composed strategy's sampler params: typed (`SamplerParams.inner_params`, validated with the
# outer params) or, from a caller that has only the mapping, parsed where it is used
Inner = BaseModel | Mapping[str, Any] | None


def plain_cot(sampler: str, sampler_params: Inner) -> bool:
    """Whether `Context.draw` makes plain cot samples: cot, with no parameter of it set."""
    if sampler != DEFAULT_STRATEGY:
        return False
    if isinstance(sampler_params, BaseModel):
        return not sampler_params.model_fields_set
    return not sampler_params


def typed_inner(spec: StrategySpec, sampler_params: Inner) -> BaseModel:
    """The sampler's typed params: as they are when typed, else parsed (a plain mapping)."""
    if isinstance(sampler_params, BaseModel):
        return sampler_params
    return spec.parse_params(dict(sampler_params or {}))


def plain_pool(n: int, sampler: str, sampler_params: Inner) -> int:
    """n when `Context.draw` makes n plain cot samples (an i.i.d. pool), else 0."""
    return n if plain_cot(sampler, sampler_params) else 0


def draw_width(n: int, sampler: str, sampler_params: Inner) -> int:
    """Samples `Context.draw(question, n, sampler, sampler_params)` holds at once: n in one
    request for plain cot, else up to `DRAW_WORKERS` runs of `sampler`, each as wide as it declares.

        >>> draw_width(8, "cot", {}), draw_width(20, "self_consistency", {"n": 3})
        (8, 48)
    """
    if plain_cot(sampler, sampler_params):
        return n
    spec = get_strategy(sampler)
    return min(n, DRAW_WORKERS) * spec.samples(typed_inner(spec, sampler_params))


def draw_total(n: int, sampler: str, sampler_params: Inner) -> int:
    """Samples `Context.draw(question, n, sampler, sampler_params)` draws in all: n for plain
    cot, else n runs of `sampler`, each drawing what it declares.

        >>> draw_total(8, "cot", {}), draw_total(20, "self_consistency", {"n": 3})
        (8, 60)
    """
    if plain_cot(sampler, sampler_params):
        return n
    spec = get_strategy(sampler)
    return n * spec.samples_drawn(typed_inner(spec, sampler_params))


@dataclass(frozen=True)
class StrategySpec:
    name: str
    description: str
    reference: str
    params_type: type[BaseModel]
    run: StrategyFn
    default_temperature: float = 0.7
    # the most samples one question holds in the engine at once (its widest batched draw),
    # from the typed params: the bench fills the engine's slots by it
    samples: Samples = one_sample
    # the answer is the model's message as it is (text or tool calls): the strategy runs the
    # caller's conversation unchanged, so it may be given tools and a response_format
    replies: bool = False
    # its answer is one sample's text as the engine writes it, so a server may stream those
    # tokens to the client as they come (otherwise it streams progress, then the answer)
    streams: bool = False
    # the samples it draws for these params when they are a plain i.i.d. pool (0: not a pool):
    # the bench derives maj@k and pass@k for every k from such a pool
    pool: Samples = lambda params: 0
    # it searches over partial solutions step by step, and returns the tree it grew in its
    # details (`strategies/tree.py`), which the bench stores and the viewer draws
    steps: bool = False
    # it scores candidates with `Context.verifier` (best_of_n, the step searches); `solve`
    # gives it the judge by default and refuses a verifier to a strategy that would ignore it
    uses_verifier: bool = False
    # the most samples one question draws in all for these params, where they bound it (an
    # adaptive strategy's `max_n`); None: as many as it holds at once (`samples`). A server
    # refuses a request above its sample cap by it before any engine call
    drawn: Samples | None = None
    # the keys of the outcome's `details` worth a line under the answer (`thinktime solve`)
    facts: tuple[str, ...] = ()
    # it reads the engine's top-k logprobs (refused where the backend returns none)
    needs_logprobs: bool = False
    # it continues raw text after the rendered chat template (`Context.chat_prompt`: refused,
    # before any call, on a backend that is not `ChatTemplating`)
    continues_text: bool = False
    # (prompt, completion) tokens one answer spends for these params, as multiples of one
    # prompt and one sample: the planner's estimate (`thinktime plan`); None: not estimated,
    # a workload then gives its measured `token_multiplier`
    tokens: Tokens | None = None

    def samples_drawn(self, params: BaseModel) -> int:
        """The most samples one question draws for these (validated) params.

        >>> from thinktime.strategies import get_strategy
        >>> ac = get_strategy("adaptive_consistency")
        >>> ac.samples(ac.parse_params({})), ac.samples_drawn(ac.parse_params({}))
        (4, 16)
        """
        return (self.drawn or self.samples)(params)

    def takes_verifier(self, params: BaseModel) -> bool:
        """Whether a run with `params` uses a verifier: its own, or a composed sampler's.

        >>> from thinktime.strategies import get_strategy
        >>> sc = get_strategy("self_consistency")
        >>> sc.takes_verifier(sc.parse_params({})), sc.takes_verifier(
        ...     sc.parse_params({"sampler": "best_of_n"}))
        (False, True)
        """
        if self.uses_verifier:
            return True
        sampler = getattr(params, "sampler", None)  # composition (`SamplerParams`)
        if not isinstance(sampler, str) or sampler not in STRATEGIES:
            return False
        inner = get_strategy(sampler)
        # typed with the outer params (`SamplerParams.inner_params`), else parsed here
        typed = getattr(params, "inner_params", None)
        if not isinstance(typed, BaseModel):
            typed = typed_inner(inner, getattr(params, "sampler_params", None))
        return inner.takes_verifier(typed)

    def parse_params(self, values: dict[str, Any]) -> BaseModel:
        """Validate strategy parameters; bad ones become a one-line error naming the field."""
        try:
            return self.params_type.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors()
            )
            fields = ", ".join(self.params_type.model_fields) or "none"
            raise ThinktimeError(
                f"bad parameters for strategy {self.name!r}: {problems} (its parameters: {fields})"
            ) from None


# built-in strategies: name → the module that registers it (imported on first use); the names
# appear here and in their own modules only, and everything else reads the spec (checked by
# tests/test_names_in_one_place.py). `plain` was called `none` until issue 23 (the word is also
# OpenAI's tool_choice): the old name is refused with a line that gives the new one
STRATEGIES: Registry[StrategySpec] = Registry(
    "strategy",
    {
        name: f"thinktime.strategies.{name}"
        for name in (
            "cot", "direct", "self_consistency", "adaptive_consistency", "best_of_n",
            "budget_forcing", "verify_revise", "beam_search", "dvts", "route", "tool_vote",
            "deepconf", "cot_decoding", "tournament", "particle_filtering", "mcts", "st_bon",
            "plain",
        )
    },
    renamed={"none": "plain"},
)  # fmt: skip


def register_strategy(
    name: str,
    description: str,
    reference: str,
    params_type: type[BaseModel],
    default_temperature: float = 0.7,
    samples: Samples = one_sample,
    replies: bool = False,
    streams: bool = False,
    pool: Samples = lambda params: 0,
    steps: bool = False,
    uses_verifier: bool = False,
    drawn: Samples | None = None,
    facts: tuple[str, ...] = (),
    needs_logprobs: bool = False,
    continues_text: bool = False,
    tokens: Tokens | None = None,
) -> Callable[[StrategyFn], StrategyFn]:
    """Decorator: register `run` as strategy `name` (built-ins and plugins alike); `samples`
    declares how many samples one question holds at once, from the typed params; `replies`
    that it answers with the model's own message, so it can take tools (an agent's step);
    `streams` that its answer is one sample's text, whose tokens a server may stream;
    `pool` how many samples it draws as a plain i.i.d. pool (0: none); `steps` that it
    searches step by step; `uses_verifier` that it scores candidates with `Context.verifier`
    (then `solve` passes the judge unless told another, and refuses a verifier to others);
    `drawn` the most samples it draws in all (default: `samples`); `facts` the `details` keys
    worth showing beside its answer; `needs_logprobs` and `continues_text` the backend
    capabilities it needs (top-k logprobs; continuing its chat template as raw text);
    `tokens` the (prompt, completion) tokens an answer spends, in prompts and samples, for
    the planner."""

    def wrap(run: StrategyFn) -> StrategyFn:
        STRATEGIES[name] = StrategySpec(
            name, description, reference, params_type, run, default_temperature, samples,
            replies, streams, pool, steps, uses_verifier, drawn, facts, needs_logprobs,
            continues_text, tokens,
        )  # fmt: skip
        return run

    return wrap


def get_strategy(name: str) -> StrategySpec:
    """The registered strategy `name`, or a clear error listing the valid ones."""
    return STRATEGIES.get_or_fail(name)


def strategies_that(declares: Callable[[StrategySpec], bool]) -> str:
    """The registered strategies whose spec `declares` something, sorted, for a message that
    says which to use instead (plugins included).

        >>> strategies_that(lambda spec: spec.replies)
        'plain, tool_vote'
    """
    return ", ".join(sorted(name for name, spec in STRATEGIES.items() if declares(spec)))
