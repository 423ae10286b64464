"""Strategy logic on the scripted backend: voting, ties, verifiers, revise loops, batching."""

import pytest

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.errors import ThinktimeError
from thinktime.strategies import STRATEGIES


def test_every_strategy_documents_itself():
    for spec in STRATEGIES.values():
        assert spec.description and spec.reference
        module = __import__(spec.run.__module__, fromlist=["_"])
        assert "Reference" in module.__doc__ and ">>>" in module.__doc__


def test_direct_uses_few_tokens_and_greedy():
    backend = FakeBackend(["\\boxed{7}"])
    result = solve("3+4?", backend=backend, strategy="direct")
    assert result.answer == "7"
    [(_requests, params)] = backend.calls
    assert params.max_tokens == 32 and params.temperature == 0.0


def test_cot_single_sample():
    backend = FakeBackend(["3 plus 4 is 7 so \\boxed{7}"])
    result = solve("3+4?", backend=backend, strategy="cot")
    assert (result.answer, result.chosen, len(result.samples)) == ("7", 0, 1)
    assert result.text.startswith("3 plus 4")
    assert result.bill.reasoning_tokens == 6


def test_self_consistency_is_one_batched_request():
    backend = FakeBackend(["\\boxed{26}", "\\boxed{24}", "\\boxed{26.0}", "no idea"])
    result = solve("apples?", backend=backend, strategy="self_consistency", n=8)
    assert len(backend.calls) == 1
    [request] = backend.calls[0][0]
    assert request.n == 8
    assert result.answer == "26"
    assert result.votes == {"26": 4.0, "24": 2.0}
    assert result.samples[result.chosen].answer == "26"
    assert result.bill.samples == 8


def test_self_consistency_tie_goes_to_first_seen():
    result = solve(
        "?", backend=FakeBackend(["\\boxed{5}", "\\boxed{6}"]), strategy="self_consistency", n=4
    )
    assert result.answer == "5"
    assert result.votes == {"5": 2.0, "6": 2.0}


def test_self_consistency_with_no_answers():
    result = solve("?", backend=FakeBackend(["hmm"]), strategy="self_consistency", n=3)
    assert result.answer is None and result.chosen is None and result.votes == {}


def test_best_of_n_picks_highest_judge_score_and_bills_verifier():
    def script(request, index):
        if request.messages[0].content.startswith("You grade"):
            return "yes" if "\\boxed{26}" in request.messages[1].content else "no"
        return ["\\boxed{24}", "\\boxed{24}", "\\boxed{26}"][index]

    backend = FakeBackend(script)
    result = solve("apples?", backend=backend, strategy="best_of_n", n=3)
    assert result.answer == "26"  # the verifier overrules the majority
    assert result.details["scores"] == [0.0, 0.0, 1.0]
    assert [s.score for s in result.samples] == [0.0, 0.0, 1.0]
    assert result.bill.verifier_tokens > 0
    # one call for the candidates, one batched call for all three judge prompts
    assert [len(requests) for requests, _ in backend.calls] == [1, 3]


def test_best_of_n_tie_goes_to_earliest():
    def script(request, index):
        return (
            "yes" if request.messages[0].content.startswith("You grade") else f"\\boxed{{{index}}}"
        )

    assert solve("?", backend=FakeBackend(script), strategy="best_of_n", n=3).answer == "0"


def test_best_of_n_requires_verifier():
    from thinktime.compute.ledger import Ledger
    from thinktime.sampling import SamplingParams
    from thinktime.strategies.base import Context

    spec = STRATEGIES["best_of_n"]  # run without solve, which gives it the judge by default
    with pytest.raises(ThinktimeError, match="needs a verifier"):
        spec.run("?", Context(Ledger(FakeBackend()), SamplingParams()), spec.parse_params({}))


def test_verify_revise_stops_when_check_passes():
    backend = FakeBackend(["\\boxed{26}", "All steps fine. VERDICT: CORRECT"])
    result = solve("apples?", backend=backend, strategy="verify_revise")
    assert result.answer == "26"
    assert [r["verdict"] for r in result.details["rounds"]] == ["correct"]
    assert len(backend.calls) == 2
    assert result.bill.verifier_tokens > 0


def test_verify_revise_revises_then_runs_out_of_rounds():
    script = ["\\boxed{1}", "VERDICT: INCORRECT", "\\boxed{2}", "VERDICT: INCORRECT", "\\boxed{3}"]
    result = solve("?", backend=FakeBackend(script), strategy="verify_revise", max_rounds=2)
    assert result.answer == "3"
    assert [s.answer for s in result.samples] == ["1", "2", "3"]
    assert result.chosen == 2


def test_registry_and_parameter_errors():
    with pytest.raises(ThinktimeError, match="unknown strategy 'vote'; choose one of"):
        solve("?", backend=FakeBackend(), strategy="vote")
    with pytest.raises(ThinktimeError, match="takes no n"):
        solve("?", backend=FakeBackend(), strategy="cot", n=3)
    with pytest.raises(ThinktimeError, match="bad parameters for strategy 'self_consistency'"):
        solve("?", backend=FakeBackend(), strategy="self_consistency", n=0)
    with pytest.raises(ThinktimeError, match=r"max_round=2, which is neither"):
        solve("?", backend=FakeBackend(), strategy="verify_revise", max_round=2)
    with pytest.raises(ThinktimeError, match="question is empty"):
        solve("   ", backend=FakeBackend())
    with pytest.raises(ThinktimeError, match="unknown verifier"):
        solve("?", backend=FakeBackend(), strategy="best_of_n", verifier="oracle")


def test_unknown_backend_error():
    from thinktime.backends import make_backend

    with pytest.raises(ThinktimeError, match="unknown model 'nope'"):
        make_backend("nope")
    with pytest.raises(ThinktimeError, match="needs a model name"):
        make_backend("openai:")


def _contested(request, index):
    """Every sample a different answer (so route calls the question hard); steps never end."""
    if request.prompt is None and "VERDICT" not in request.messages[-1].content:
        return "yes"  # the judge
    return f"step {index} of many" if request.prompt else f"\\boxed{{{index}}}"


@pytest.mark.parametrize(
    ("strategy", "params", "declared"),
    [
        ("cot", {}, 1),
        ("direct", {}, 1),
        ("self_consistency", {"n": 6}, 6),
        ("best_of_n", {"n": 3}, 3),
        ("adaptive_consistency", {"max_n": 6, "batch": 4}, 4),
        ("adaptive_consistency", {"max_n": 3, "batch": 4}, 3),
        ("route", {"probe_n": 3}, 12),
        ("route", {"probe_n": 5, "table": [[0.0, 2, "all"]]}, 5),
        ("beam_search", {"beams": 3, "expand": 2, "max_steps": 2}, 6),
        ("dvts", {"beams": 2, "expand": 3, "max_steps": 2}, 6),
        ("budget_forcing", {"max_thinking_tokens": 8}, 1),
        ("verify_revise", {"max_rounds": 2}, 1),
    ],
)
def test_declared_samples_are_the_widest_engine_call(strategy, params, declared):
    """Each strategy declares the most samples one question holds at once: its widest call."""
    spec = STRATEGIES[strategy]
    assert spec.samples(spec.parse_params(params)) == declared
    backend = FakeBackend(_contested)
    solve("2+2?", backend=backend, strategy=strategy, params=params, max_tokens=16)
    widest = max(sum(r.n for r in requests) for requests, _ in backend.calls)
    assert widest == declared


def test_composed_samplers_multiply_their_widths():
    spec = STRATEGIES["self_consistency"]
    inner = {"sampler": "self_consistency", "sampler_params": {"n": 3}}
    assert spec.samples(spec.parse_params({"n": 4, **inner})) == 12
    forced = {"sampler": "budget_forcing", "sampler_params": {"max_thinking_tokens": 64}}
    assert STRATEGIES["best_of_n"].samples(STRATEGIES["best_of_n"].parse_params(forced)) == 4
    assert spec.samples(spec.parse_params({"n": 40, **inner})) == 16 * 3  # 16 runs at a time
