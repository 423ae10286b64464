"""CoT decoding on a scripted engine: the branch is chosen by its answer's margin, not by how
likely its first token was; one probe call, then every branch in one batched call; refused on a
backend without logprobs or a chat template; and once on the real embedded model."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import pytest

from thinktime import solve
from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams
from thinktime.strategies import get_strategy
from thinktime.strategies.cot_decoding import answer_margin
from thinktime.types import Completion, Generation, Message, Request, TokenLogprob

PROMPT = "Q: apples?\nA:"
# the first token's alternatives, most likely first: the greedy path starts with "The"
FIRST = (("The", -0.3), (" 36", -1.6), ("Let", -2.2), ("<|im_end|>", -4.0))
# each branch's greedy continuation: (token, logprob of top-1, logprob of the runner-up)
SURE, UNSURE = (-0.02, -6.0), (-0.6, -0.9)
PATHS = {
    "The": [(" answer", -0.1, -3.0), (" is", -0.1, -3.0), (" \\boxed{", -0.1, -3.0),
            ("24", *UNSURE), ("}", -0.1, -3.0)],
    " 36": [(" -", -0.5, -1.5), (" 10", -0.4, -1.5), (" =", -0.1, -3.0), (" \\boxed{", -0.1, -3.0),
            ("26", *SURE), ("}", -0.1, -3.0)],
    "Let": [(" me", -0.3, -2.0), (" think", -0.3, -2.0), (" about", -0.3, -2.0)],
}  # fmt: skip


def top2(token: str, first: float, second: float) -> TokenLogprob:
    return TokenLogprob(token, first, ((token, first), ("~", second)))


class Branches:
    """A stand-in engine that renders a chat template and returns scripted top-k logprobs:
    the first token's alternatives (`FIRST`), then each branch's scripted greedy path."""

    card = None

    def __init__(
        self, paths: dict[str, list] = PATHS, logprobs: bool = True, alternatives: int = 20
    ) -> None:
        self.name = "branches"
        self.paths = paths
        self.logprobs = logprobs
        self.alternatives = alternatives  # the most it returns, whatever was asked
        self.calls: list[tuple[list[Request], SamplingParams]] = []

    def chat_prompt(self, messages: Sequence[Message]) -> str:
        return PROMPT

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Generation]:
        self.calls.append((list(requests), params))
        return [Generation((self._complete(r.prompt or "", params),), 4, 4) for r in requests]

    def _complete(self, prompt: str, params: SamplingParams) -> Completion:
        if prompt == PROMPT:  # the probe: one token, with the first position's alternatives
            top = FIRST[: min(params.top_logprobs, self.alternatives)]
            tokens = (TokenLogprob(FIRST[0][0], FIRST[0][1], top),)
        else:
            branch = prompt.removeprefix(PROMPT)
            tokens = tuple(top2(*step) for step in self.paths[branch][: params.max_tokens])
        text = "".join(t.token for t in tokens)
        return Completion(text, "stop", len(tokens), tokens if self.logprobs else None)


def test_the_branch_with_the_surest_answer_wins_not_the_most_likely_first_token():
    engine = Branches()
    result = solve("apples?", backend=engine, strategy="cot_decoding", k=4)
    assert result.answer == "26" and result.chosen == 1
    branches = result.details["branches"]
    # the control token is no branch; branches keep the first token's order of likelihood
    assert [b["token"] for b in branches] == ["The", " 36", "Let"]
    assert [b["answer"] for b in branches] == ["24", "26", None]
    unsure, sure = math.exp(UNSURE[0]) - math.exp(UNSURE[1]), math.exp(SURE[0]) - math.exp(SURE[1])
    assert branches[0]["margin"] == pytest.approx(unsure, abs=1e-4)  # only "24" is the answer
    assert branches[1]["margin"] == pytest.approx(sure, abs=1e-4)
    assert branches[2]["margin"] is None  # no answer: never chosen
    assert result.details["margin"] == branches[1]["margin"] == result.samples[1].score
    assert result.text == " 36 - 10 = \\boxed{26}"


def test_one_probe_then_every_branch_greedy_in_one_batched_call():
    engine = Branches()
    result = solve("apples?", backend=engine, strategy="cot_decoding", k=3, max_tokens=64)
    [(probe, first), (branches, rest)] = engine.calls
    assert [r.prompt for r in probe] == [PROMPT]
    assert (first.max_tokens, first.top_logprobs, first.temperature) == (1, 3, 0.0)
    assert [r.prompt for r in branches] == [PROMPT + "The", PROMPT + " 36", PROMPT + "Let"]
    assert (rest.max_tokens, rest.top_logprobs, rest.temperature) == (63, 2, 0.0)
    # every path's tokens are billed once: the probe's token and each continuation
    assert result.bill.samples == 4  # one per request: the probe and three branches
    assert result.bill.completion_tokens == 1 + 5 + 6 + 3
    assert [s.completion_tokens for s in result.samples] == [6, 7, 4]


def test_aggregate_sums_the_margins_of_paths_that_reach_the_same_answer():
    paths = {**PATHS, "Let": [(" so", -0.1, -3.0), (" \\boxed{", -0.1, -3.0), ("24", -0.05, -3.0)]}
    argmax = solve("apples?", backend=Branches(paths), strategy="cot_decoding", k=3)
    summed = solve("apples?", backend=Branches(paths), strategy="cot_decoding", k=3, aggregate=True)
    assert argmax.answer == "26"
    assert summed.answer == "24" and summed.chosen == 2  # the surer of the two "24" paths
    assert summed.votes["24"] > summed.votes["26"] > summed.samples[0].score


def test_k_1_is_greedy_decoding():
    result = solve("apples?", backend=Branches(), strategy="cot_decoding", k=1)
    assert [b["token"] for b in result.details["branches"]] == ["The"]
    assert result.answer == "24"


def test_a_backend_without_logprobs_is_refused_after_one_token():
    engine = Branches(logprobs=False)
    with pytest.raises(ThinktimeError, match=r"top-10 logprobs .* returned 0;") as error:
        solve("apples?", backend=engine, strategy="cot_decoding")
    assert "\n" not in str(error.value)
    assert len(engine.calls) == 1  # the probe only


def test_a_backend_that_returns_one_alternative_is_refused_not_run_greedy():
    engine = Branches(alternatives=1)  # as llama.cpp's raw completions did for top_logprobs
    with pytest.raises(ThinktimeError, match=r"top-3 logprobs .* returned 1;"):
        solve("apples?", backend=engine, strategy="cot_decoding", k=3)
    assert len(engine.calls) == 1
    assert solve("apples?", backend=engine, strategy="cot_decoding", k=1).answer == "24"


def test_a_backend_without_a_chat_template_is_refused_before_any_call():
    class ChatOnly:  # an API that takes messages and cannot continue a raw text
        name, card = "chat-only", None

        def generate(self, requests, params):
            raise AssertionError("no engine call before the refusal")

    with pytest.raises(ThinktimeError, match="chat template"):
        solve("apples?", backend=ChatOnly(), strategy="cot_decoding")


def test_the_spec_declares_what_it_needs_and_holds():
    spec = get_strategy("cot_decoding")
    assert spec.needs_logprobs and spec.continues_text
    params = spec.parse_params({"k": 6})
    assert spec.samples(params) == 6 and spec.samples_drawn(params) == 7


def test_a_token_cap_binds_after_the_probe():
    engine = Branches()
    result = solve("apples?", backend=engine, strategy="cot_decoding", budget={"max_tokens": 1})
    assert result.bill.completion_tokens == 1 and result.budget_limited
    assert result.answer is None and len(engine.calls) == 1


def test_the_margin_covers_only_the_answer_tokens():
    path = [top2("so", -0.01, -9.0), top2(" \\boxed{", -0.01, -9.0), top2("7", -0.7, -0.7)]
    assert answer_margin(path) == 0.0  # a coin flip on the answer: no margin
    assert answer_margin([top2("no", -0.1, -2.0)]) is None


@pytest.mark.integration
def test_cot_decoding_on_the_real_model(embedded):
    easy = "Tom has 3 apples and buys 2 more apples. How many apples does Tom have now?"
    started = time.perf_counter()
    result = solve(easy, backend=embedded, strategy="cot_decoding", k=3, max_tokens=96)
    seconds = time.perf_counter() - started
    branches = result.details["branches"]
    print(f"cot_decoding: {seconds:.1f}s, answer {result.answer}, branches {branches}")
    assert 2 <= len(branches) <= 3 and result.bill.samples == 1 + len(branches)
    assert len({b["token"] for b in branches}) == len(branches)  # distinct first tokens
    margins = [b["margin"] for b in branches if b["margin"] is not None]
    assert margins and all(-1.0 <= m <= 1.0 for m in margins)
    assert result.answer is not None and result.details["margin"] == max(margins)
    assert "5" in [b["answer"] for b in branches]
