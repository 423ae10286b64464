"""adaptive_consistency, budget_forcing, beam_search, dvts, route, composition: fake backend."""

import pytest

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.errors import ThinktimeError
from thinktime.strategies.stopping import beta_confidence, beta_stop, window_stop


def test_beta_confidence_matches_closed_form():
    # P(Beta(a+1, b+1) > 1/2) for a=2, b=1 is 1 - I_{1/2}(3, 2) = 11/16
    assert beta_confidence(2, 1) == pytest.approx(11 / 16)
    assert beta_confidence(3, 3) == pytest.approx(0.5)
    assert not beta_stop([], 0.95)
    assert beta_stop([5, 0], 0.95) and not beta_stop([5, 2], 0.95)


def test_window_rule():
    assert not window_stop(["1", "1", "1"], 4)
    assert window_stop(["2", "1", "1.0", "1", "1"], 4)
    assert not window_stop(["1", "1", None, "1"], 3)


def test_adaptive_stops_after_one_batch_when_unanimous():
    backend = FakeBackend(["\\boxed{7}"])
    result = solve("?", backend=backend, strategy="adaptive_consistency", max_n=16, batch=4)
    assert result.details["samples_used"] == 4
    assert [r.n for requests, _ in backend.calls for r in requests] == [4]


def test_adaptive_keeps_sampling_while_contested():
    backend = FakeBackend(["\\boxed{1}", "\\boxed{2}"])
    result = solve("?", backend=backend, strategy="adaptive_consistency", max_n=12, batch=4)
    assert result.details["samples_used"] == 12  # a 50/50 split never settles
    assert result.votes == {"1": 6.0, "2": 6.0} and result.answer == "1"


def test_adaptive_window_rule():
    backend = FakeBackend(
        ["\\boxed{1}", "\\boxed{2}", "\\boxed{2}", "\\boxed{2}", "\\boxed{2}", "\\boxed{2}"]
    )
    result = solve(
        "?", backend=backend, strategy="adaptive_consistency", rule="window", window=3, batch=2
    )
    assert result.details["samples_used"] == 4 and result.answer == "2"


def test_budget_forcing_cuts_at_max_and_forces_the_answer():
    backend = FakeBackend(["a b c d e f g h i j", "26}"])
    result = solve("?", backend=backend, strategy="budget_forcing", max_thinking_tokens=4)
    assert result.answer == "26"
    assert result.details == {**result.details, "thinking_tokens": 4, "cut": True, "waits": 0}
    assert "Final answer: \\boxed{26}" in result.text
    first_call, force_call = backend.calls
    assert first_call[1].max_tokens == 4 and first_call[1].stop == ("\\boxed",)
    assert force_call[1].temperature == 0.0 and force_call[0][0].prompt.endswith("\\boxed{")


def test_budget_forcing_appends_wait_below_the_minimum():
    backend = FakeBackend(["36 - 10", "so 36 - 10 = 26 apples", "26}"])
    result = solve(
        "?", backend=backend, strategy="budget_forcing", min_thinking_tokens=6, max_waits=3
    )
    assert result.details["waits"] == 1  # 3 tokens < 6 → Wait; 3 + 6 ≥ 6 → answer
    assert "36 - 10\nWait,so 36" in result.text
    assert result.answer == "26"


def test_budget_forcing_params_are_checked():
    with pytest.raises(ThinktimeError, match="min_thinking_tokens must not exceed"):
        solve(
            "?",
            backend=FakeBackend(),
            strategy="budget_forcing",
            min_thinking_tokens=9,
            max_thinking_tokens=5,
        )


def _judge_likes(good: str):
    def script(request, index):
        if request.prompt is None:  # a judge prompt (chat), not a continuation
            return "yes" if good in request.messages[1].content else "no"
        if request.prompt.count("\n\n") >= 1:  # one step written so far → finish
            return "\\boxed{26}" if good in request.prompt else "\\boxed{24}"
        return ["36 - 10", "36 - 12"][index % 2]

    return script


def test_beam_search_follows_the_verifier_and_batches_each_step():
    backend = FakeBackend(_judge_likes("36 - 10"))
    result = solve("apples?", backend=backend, strategy="beam_search", beams=2, expand=2)
    assert result.answer == "26"
    continuations = [
        requests for requests, params in backend.calls if requests[0].prompt is not None
    ]
    assert [len(r) for r in continuations] == [2, 2]  # all beams of a step in one call
    assert result.bill.verifier_tokens > 0


def test_dvts_keeps_one_node_per_subtree():
    from thinktime.strategies.dvts import best_per_subtree
    from thinktime.strategies.step_search import Node, StepSearchParams

    nodes = [Node("a", 0, 0.2), Node("b", 0, 0.9), Node("c", 1, 0.1), Node("d", 1, 0.1)]
    kept = best_per_subtree(nodes, StepSearchParams())
    assert [n.text for n in kept] == ["b", "c"]
    result = solve(
        "apples?", backend=FakeBackend(_judge_likes("36 - 10")), strategy="dvts", beams=2
    )
    assert result.answer == "26"


def test_step_search_forces_an_answer_when_out_of_steps():
    backend = FakeBackend(
        lambda request, i: (
            "yes" if request.prompt is None else ("7}" if request.prompt.endswith("{") else "more")
        )
    )
    result = solve("?", backend=backend, strategy="beam_search", beams=1, expand=1, max_steps=2)
    assert result.answer == "7"


def test_both_strategies_force_the_answer_the_same_way():
    """One helper: the thinking so far, "Final answer: \\boxed{", greedy tokens cut at "}"."""
    from thinktime.strategies import budget_forcing, step_search

    assert step_search.force_answer is budget_forcing.force_answer
    search = FakeBackend(
        lambda request, i: (
            "yes"
            if request.prompt is None
            else ("7} and on" if request.prompt.endswith("{") else "x")
        )
    )
    searched = solve("?", backend=search, strategy="beam_search", beams=1, expand=1, max_steps=1)
    forcing = FakeBackend(["x", "7} and on"])
    forced = solve("?", backend=forcing, strategy="budget_forcing", max_thinking_tokens=1)
    # step search ends each unfinished step with a blank line; budget forcing does not
    for backend, result, thinking in ((search, searched, "x\n\n"), (forcing, forced, "x")):
        forced_text = thinking + "\n\nFinal answer: \\boxed{"
        requests, params = backend.calls[-1]
        assert requests[0].prompt.endswith("assistant: " + forced_text)
        assert (params.temperature, params.stop) == (0.0, ("}",))
        assert (result.samples[0].text, result.answer) == (forced_text + "7}", "7")


def test_route_spends_more_on_contested_questions():
    easy = solve("?", backend=FakeBackend(["\\boxed{4}"]), strategy="route")
    assert (easy.details["difficulty"], easy.details["samples_used"]) == ("easy", 4)
    split = ["\\boxed{1}", "\\boxed{2}", "\\boxed{3}", "\\boxed{1}"]
    medium = solve("?", backend=FakeBackend(split), strategy="route")
    assert (medium.details["difficulty"], medium.details["samples_used"]) == ("medium", 8)
    spread = ["\\boxed{1}", "\\boxed{2}", "\\boxed{3}", "\\boxed{4}"]
    hard = solve("?", backend=FakeBackend(spread), strategy="route")
    assert (hard.details["difficulty"], hard.details["samples_used"]) == ("hard", 16)
    with pytest.raises(ThinktimeError, match=r"min_agreement 0\.0"):
        solve("?", backend=FakeBackend(), strategy="route", table=[[0.5, 2, "x"]])


def test_composition_self_consistency_over_budget_forced_samples():
    def script(request, index):
        return "26}" if request.prompt.endswith("\\boxed{") else "36 - 10 is"

    backend = FakeBackend(script)
    result = solve(
        "?", backend=backend, strategy="self_consistency", n=3,
        sampler="budget_forcing", sampler_params={"max_thinking_tokens": 8},
    )  # fmt: skip
    assert result.answer == "26" and result.votes == {"26": 3.0}
    assert len(backend.calls) == 6  # three runs × (think + force)


def test_composition_best_of_n_over_verify_revise():
    def script(request, index):
        system = request.messages[0].content
        if system.startswith("You grade"):
            return "yes"
        if system.startswith("You check"):
            return "VERDICT: CORRECT"
        return "\\boxed{5}"

    result = solve(
        "?", backend=FakeBackend(script), strategy="best_of_n", n=2, sampler="verify_revise"
    )
    assert result.answer == "5" and len(result.samples) == 2


def test_unknown_sampler():
    with pytest.raises(ThinktimeError, match=r"unknown strategy 'nope'"):
        solve("?", backend=FakeBackend(), strategy="self_consistency", n=2, sampler="nope")


def test_weighted_best_of_n_sums_scores_per_answer():
    def script(request, index):
        if request.messages[0].content.startswith("You grade"):
            solution = request.messages[1].content
            return "yes" if "boxed{9}" in solution else "no"
        return ["\\boxed{9}", "\\boxed{4}", "\\boxed{4}"][index]

    result = solve("?", backend=FakeBackend(script), strategy="best_of_n", n=3, mode="weighted")
    assert result.answer == "9" and result.votes == {"9": 1.0, "4": 0.0}
