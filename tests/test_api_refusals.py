"""`thinktime.solve` refuses what the CLI refuses: a value given two ways is never silently
picked (issue 24, item 5). All on the scripted backend."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.compute.budget import Budget
from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams
from thinktime.strategies import STRATEGIES, get_strategy
from thinktime.strategies.self_consistency import SelfConsistencyParams
from thinktime.verifiers.judge import JudgeVerifier

ANSWER = "so \\boxed{4}"


def _one_line(error: pytest.ExceptionInfo[ThinktimeError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_n_given_as_a_shortcut_and_in_params_is_refused():
    with pytest.raises(ThinktimeError) as error:
        solve("2+2?", backend=FakeBackend([ANSWER]), strategy="self_consistency",
              n=4, params={"n": 8})  # fmt: skip
    assert _one_line(error) == "n given twice (n=4 and params['n']=8); pass it once"


def test_any_strategy_parameter_given_twice_is_refused_even_in_a_typed_params():
    with pytest.raises(ThinktimeError, match=r"^weight given twice \(weight='confidence' and"):
        solve("2+2?", backend=FakeBackend([ANSWER]), strategy="self_consistency",
              weight="confidence", params={"weight": "none"})  # fmt: skip
    typed = SelfConsistencyParams(n=8)
    with pytest.raises(ThinktimeError, match=r"n given twice \(n=4 and params\['n'\]=8\)"):
        solve("2+2?", backend=FakeBackend([ANSWER]), strategy="self_consistency",
              n=4, params=typed)  # fmt: skip


def test_a_typed_params_field_left_at_its_default_can_still_take_a_shortcut():
    backend = FakeBackend([ANSWER])
    typed = SelfConsistencyParams(weight="none")  # n is not set: the shortcut sets it
    result = solve("2+2?", backend=backend, strategy="self_consistency", n=3, params=typed)
    assert result.details["params"]["n"] == 3 and result.bill.samples == 3


@pytest.mark.parametrize(
    ("field", "shortcut", "inside"),
    [("max_tokens", 3, 6), ("temperature", 0.1, 0.9), ("seed", 1, 2), ("top_p", 0.5, 0.5)],
)
def test_a_sampling_field_given_as_a_shortcut_and_in_sampling_is_refused(field, shortcut, inside):
    with pytest.raises(ThinktimeError) as error:
        solve("2+2?", backend=FakeBackend([ANSWER]), strategy="cot",
              sampling=SamplingParams(**{field: inside}), **{field: shortcut})  # fmt: skip
    assert _one_line(error) == (
        f"{field} given twice ({field}={shortcut!r} and "
        f"sampling=SamplingParams({field}={inside!r})); pass it once"
    )


def test_sampling_and_shortcuts_for_different_fields_combine():
    backend = FakeBackend(["one two three four five six seven eight"])
    solve("2+2?", backend=backend, strategy="cot", max_tokens=3,
          sampling=SamplingParams(temperature=0.2))  # fmt: skip
    [(_, params)] = backend.calls
    assert params.max_tokens == 3 and params.temperature == 0.2


def test_backend_and_model_together_are_refused():
    with pytest.raises(ThinktimeError) as error:
        solve("2+2?", model="qwen2.5-coder-0.5b", backend=FakeBackend([ANSWER]))
    assert _one_line(error).startswith("pass backend= or model=, not both")
    # a backend alone, or a model alone, is fine (model="fake" is the scripted backend)
    assert solve("2+2?", backend=FakeBackend([ANSWER])).answer == "4"
    assert solve("2+2?", model="fake").answer == "42"


@pytest.mark.parametrize("verifier", ["judge", "self_certainty", JudgeVerifier()])
@pytest.mark.parametrize("strategy", ["self_consistency", "cot", "route", "deepconf"])
def test_a_verifier_given_to_a_strategy_that_uses_none_is_refused(strategy, verifier):
    with pytest.raises(ThinktimeError) as error:
        solve("2+2?", backend=FakeBackend([ANSWER]), strategy=strategy, verifier=verifier)
    message = _one_line(error)
    assert message.startswith(f"strategy {strategy!r} takes no verifier")
    assert "strategies that do: beam_search, best_of_n, dvts" in message


def test_the_strategies_that_score_with_a_verifier_declare_it():
    users = sorted(name for name in STRATEGIES if get_strategy(name).uses_verifier)
    assert users == ["beam_search", "best_of_n", "dvts", "mcts", "particle_filtering"]


def test_a_composed_sampler_that_scores_takes_the_verifier():
    """self_consistency over best_of_n candidates: the inner strategy uses the verifier."""
    spec = get_strategy("self_consistency")
    assert spec.takes_verifier(spec.parse_params({"sampler": "best_of_n"}))
    assert not spec.takes_verifier(spec.parse_params({"sampler": "budget_forcing"}))
    script = [ANSWER, "VERDICT: CORRECT"]
    result = solve("2+2?", backend=FakeBackend(script), strategy="self_consistency", n=2,
                   params={"sampler": "best_of_n", "sampler_params": {"n": 2}},
                   verifier="judge")  # fmt: skip
    assert result.answer == "4"


def test_a_strategy_that_scores_gets_the_judge_by_default():
    result = solve("2+2?", backend=FakeBackend([ANSWER, "VERDICT: CORRECT"]),
                   strategy="best_of_n", n=2)  # fmt: skip
    assert result.details["verifier"] == "judge" and result.bill.verifier_tokens > 0


def test_the_readme_typed_call_still_works_when_nothing_conflicts():
    result = solve(
        "A farmer has 3 baskets of 12 apples and sells 10. How many are left?",
        model="fake", strategy="self_consistency", n=4,
        sampling=SamplingParams(max_tokens=256), budget=Budget(max_completion_tokens=4096),
    )  # fmt: skip
    assert result.answer == "42" and result.bill.samples == 4
    assert result.details["params"]["n"] == 4


def test_a_params_model_of_another_strategy_is_still_its_own_error():
    class Other(BaseModel):
        n: int = 2

    with pytest.raises(ThinktimeError, match="params is a Other"):
        solve("2+2?", backend=FakeBackend([ANSWER]), strategy="self_consistency", params=Other())


def test_a_shortcut_that_is_the_strategy_s_own_parameter_does_not_clash_with_sampling():
    """budget_forcing's own max_thinking_tokens is a strategy parameter: the shortcut goes there,
    so a sampling field of the same name is no second value for it."""
    backend = FakeBackend(["so \\boxed{4}"])
    result = solve("2+2?", backend=backend, strategy="budget_forcing", max_thinking_tokens=64,
                   sampling=SamplingParams(max_tokens=200))  # fmt: skip
    assert result.details["params"]["max_thinking_tokens"] == 64


def _served(backend: FakeBackend, **thinktime: object):
    from fastapi.testclient import TestClient

    from thinktime.serve.app import ServerConfig, create_app

    client = TestClient(
        create_app(backend, ServerConfig(model="qwen")), base_url="http://127.0.0.1"
    )
    body = {"model": "qwen", "messages": [{"role": "user", "content": "2+2?"}],
            "thinktime": thinktime}  # fmt: skip
    return client.post("/v1/chat/completions", json=body)


def test_the_server_refuses_a_verifier_to_a_strategy_that_uses_none():
    reply = _served(FakeBackend([ANSWER]), strategy="self_consistency",
                    params={"n": 2, "verifier": "judge"})  # fmt: skip
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert "takes no verifier" in error["message"] and "best_of_n" in error["message"]
    assert error["param"] == "thinktime.params.verifier"


def test_the_server_gives_a_scoring_strategy_the_judge_and_others_no_verifier():
    plain = _served(FakeBackend([ANSWER]), strategy="self_consistency", params={"n": 2})
    assert plain.status_code == 200, plain.text
    scored = _served(FakeBackend([ANSWER, "VERDICT: CORRECT"]), strategy="best_of_n",
                     params={"n": 2})  # fmt: skip
    assert scored.status_code == 200, scored.text
    assert scored.json()["thinktime"]["bill"]["verifier_tokens"] > 0


def test_params_of_another_strategy_are_refused():
    with pytest.raises(ThinktimeError, match="takes BestOfNParams"):
        solve("2+2?", backend=FakeBackend(), strategy="best_of_n",
              params=SelfConsistencyParams(n=2))  # fmt: skip
