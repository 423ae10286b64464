"""particle_filtering: resampling by weight, finished particles, budgets, particle Gibbs — on a
scripted backend with a scripted verifier — and once on the real embedded model."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pytest

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.compute.ledger import Ledger
from thinktime.errors import ThinktimeError
from thinktime.strategies import STRATEGIES
from thinktime.strategies.particle_filtering import log_weight, normalize
from thinktime.types import Result

EASY = "Tom has 3 apples and buys 2 more apples. How many apples does Tom have now?"


class StepRewards:
    """A scripted verifier: each candidate's reward is looked up from its last step's text."""

    name = "scripted"

    def __init__(self, rewards: dict[str, float], default: float = 0.5) -> None:
        self.rewards, self.default = rewards, default
        self.partial: list[bool] = []

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        self.partial.append(partial)
        last = [c.rstrip().split("\n\n")[-1] for c in candidates]
        return [self.rewards.get(step, self.default) for step in last]


def steps_so_far(request) -> str:
    """The particle's text in a continuation request (after the fake chat template)."""
    return (request.prompt or "").split("\nassistant: ")[-1]


def sampling_calls(backend: FakeBackend) -> list[list]:
    """The generating model's calls that continue raw text (its steps)."""
    return [requests for requests, _ in backend.calls if requests[0].prompt is not None]


def run(script: Callable, verifier: StepRewards, **params) -> tuple[FakeBackend, Result]:
    backend = FakeBackend(script)
    result = solve("?", backend=backend, strategy="particle_filtering", verifier=verifier, **params)
    return backend, result


def test_weights_are_the_softmax_of_the_reward_logits():
    # its-hub: softmax(logit(r)), i.e. proportional to the odds r / (1 - r)
    weights = normalize([log_weight(r) for r in (0.5, 0.9, 0.25)])
    odds = [1.0, 9.0, 1 / 3]
    assert weights == pytest.approx([o / sum(odds) for o in odds])
    # a temperature below 1 sharpens, above 1 flattens
    sharp = normalize([log_weight(r, 0.5) for r in (0.5, 0.9)])
    flat = normalize([log_weight(r, 4.0) for r in (0.5, 0.9)])
    assert sharp[1] == pytest.approx(81 / 82) and flat[1] == pytest.approx(9**0.25 / (1 + 9**0.25))
    assert log_weight(0.0) == -math.inf and log_weight(1.0) == math.inf


def _branches(request, index):
    """Step 1: good / bad alternately; later steps: more of the same, never an answer."""
    text = steps_so_far(request)
    if not text:
        return ["good", "bad"][index % 2]
    return "good more" if text.startswith("good") else "bad more"


def test_a_high_reward_branch_takes_over_the_population():
    verifier = StepRewards({"good": 0.75, "bad": 0.25})  # odds 3 : 1/3, weights 9 : 1
    backend, result = run(_branches, verifier, particles=64, max_steps=2, seed=5)
    first = result.details["resampling"][0]
    good = {n["id"] for n in result.details["tree"] if n["text"].startswith("good")}
    assert first["weights"][0] == pytest.approx(0.9 / 32) and first["weights"][1] == pytest.approx(
        0.1 / 32
    )
    taken = sum(node in good for node in first["picked"])
    assert taken >= 48  # expected 57.6 of 64; the bad half would expect 6.4
    # step 2 continues exactly the particles drawn: one request per distinct parent text
    second = sampling_calls(backend)[1]
    assert sum(r.n for r in second) == 64
    assert sum(r.n for r in second if steps_so_far(r).startswith("good")) == taken
    assert all(p is True for p in verifier.partial)  # scored as partial solutions


def test_a_zero_weight_particle_is_never_resampled():
    verifier = StepRewards({"good": 0.6, "bad": 0.0, "good more": 0.6})
    for seed in range(20):
        _, result = run(_branches, verifier, particles=4, max_steps=2, seed=seed)
        tree = result.details["tree"]
        bad = {n["id"] for n in tree if n["text"].startswith("bad")}
        assert bad and not bad & set(result.details["resampling"][0]["picked"])
        assert all(tree[i]["copies"] == 0 and tree[i]["weight"] == 0.0 for i in bad)
        assert not any(tree[i]["survived"] for i in bad)


def test_a_seeded_run_resamples_the_same_way_and_another_seed_differently():
    verifier = StepRewards({"good": 0.6, "bad": 0.4, "good more": 0.5, "bad more": 0.5})

    def picks(seed):
        _, result = run(_branches, verifier, particles=8, max_steps=3, seed=seed)
        return [r["picked"] for r in result.details["resampling"]]

    assert picks(11) == picks(11)
    assert any(picks(s) != picks(11) for s in (12, 13, 14))


def test_the_first_step_is_one_request_and_copies_share_one():
    verifier = StepRewards({"good": 1.0, "bad": 0.0})
    backend, result = run(_branches, verifier, particles=6, max_steps=2, seed=0)
    first, second, forced = sampling_calls(backend)  # then the best cut particle answers
    assert forced[0].prompt.endswith("\\boxed{")
    assert [r.n for r in first] == [6]  # every particle starts from the one prompt
    assert [r.n for r in second] == [6]  # the 3 good parents have one text: one prefill
    spec = STRATEGIES["particle_filtering"]
    typed = spec.parse_params({"particles": 6, "max_steps": 2})
    assert spec.samples(typed) == max(sum(r.n for r in call) for call in sampling_calls(backend))
    assert result.bill.samples <= spec.samples_drawn(typed)


def _finishers(request, index):
    """Step 1: particle 0 answers 5 at once; the others think, then answer 6 at step 3."""
    text = steps_so_far(request)
    if not text:
        return "\\boxed{5}" if index == 0 else "think"
    return "\\boxed{6}" if text.count("\n\n") >= 2 else "think more"


def test_finished_particles_stay_in_the_population_and_are_never_extended():
    verifier = StepRewards({"\\boxed{5}": 0.6, "think": 0.5, "think more": 0.5, "\\boxed{6}": 0.9})
    backend, result = run(_finishers, verifier, particles=4, max_steps=5, seed=3)
    for requests in sampling_calls(backend):
        assert not any("\\boxed" in steps_so_far(r) for r in requests)  # never extended
    # it stops when all finished, before max_steps
    assert result.details["steps"] <= 3
    # the finished particle competes at every later step with its final reward 0.6
    five = next(n["id"] for n in result.details["tree"] if n["text"] == "\\boxed{5}")
    later = result.details["resampling"][1:]
    for resampling in later:
        for node, weight in zip(resampling["nodes"], resampling["weights"], strict=True):
            if node == five:
                assert weight > 0
    # argmax: the finished particle with the highest reward
    assert result.answer == "6" and result.samples[result.chosen].score == 0.9
    assert all(s.answer in ("5", "6") for s in result.samples)


def test_selection_sample_and_weighted_pick_among_finished_particles():
    verifier = StepRewards({"\\boxed{5}": 0.6, "think": 0.5, "think more": 0.5, "\\boxed{6}": 0.9})
    for selection in ("sample", "weighted"):
        _, result = run(_finishers, verifier, particles=4, max_steps=5, seed=3, selection=selection)
        assert result.answer in ("5", "6")
        if selection == "weighted":
            assert result.answer == max(result.votes, key=result.votes.get)
            assert sum(result.votes.values()) == pytest.approx(1.0)


def test_unfinished_particles_are_cut_at_max_steps_and_the_best_made_to_answer():
    def script(request, index):
        if request.prompt.endswith("\\boxed{"):
            return "7}"
        return "on and on"

    verifier = StepRewards({}, default=0.5)
    backend, result = run(script, verifier, particles=3, max_steps=2, seed=0)
    assert result.details["steps"] == 2 and result.details["finished"] == 0
    assert result.answer == "7"
    requests, params = backend.calls[-1]
    assert requests[0].prompt.endswith("Final answer: \\boxed{") and params.temperature == 0.0


def test_the_token_budget_binds():
    def script(request, index):
        return "one two three four five"  # five tokens a step, never an answer

    verifier = StepRewards({}, default=0.5)
    _, result = run(
        script, verifier, particles=4, max_steps=50, seed=0,
        budget={"max_completion_tokens": 30},
    )  # fmt: skip
    assert result.details["steps"] < 50
    assert result.bill.completion_tokens <= 30
    assert result.budget_limited


def _gibbs_script():
    starts = {"count": 0}

    def script(request, index):
        text = steps_so_far(request)
        if text.endswith("\\boxed{"):
            return "0}"
        if not text:  # a sweep's first step: one request, the script is asked once per sample
            starts["count"] += index == 0
            return "alpha" if starts["count"] == 1 else ["gamma", "alpha"][index % 2]
        if text.startswith("gamma"):
            return "\\boxed{9}"
        return "\\boxed{7}" if index == 0 else "\\boxed{8}"

    return script


GIBBS_REWARDS = {
    "alpha": 0.5,
    "gamma": 0.9,
    "\\boxed{7}": 1.0,
    "\\boxed{8}": 0.2,
    "\\boxed{9}": 0.95,
}


def test_particle_gibbs_keeps_the_reference_particle():
    verifier = StepRewards(GIBBS_REWARDS)
    backend, result = run(
        _gibbs_script(), verifier, particles=3, max_steps=4, iterations=2, seed=2,
        reference_particles=1,
    )  # fmt: skip
    details = result.details
    assert details["iterations"] == 2
    # sweep 1 ends with alpha → \boxed{7} (reward 1 takes all the weight): the reference
    [[reference]] = details["references"]
    assert details["tree"][reference]["text"] == "\\boxed{7}"
    # sweep 2 draws N − R = 2 fresh particles, and the reference stays in every resampling
    sweep_two = [r for r in details["resampling"] if r["iteration"] == 1]
    assert sweep_two and all(reference in r["nodes"] for r in sweep_two)
    starts = [c for c in sampling_calls(backend) if steps_so_far(c[0]) == ""]
    assert [sum(r.n for r in c) for c in starts] == [3, 2]
    # at step 1 the reference competes with its first step's reward (0.5), not its final one:
    # odds gamma 9, alpha 1, reference 1
    assert sweep_two[0]["weights"] == pytest.approx([9 / 11, 1 / 11, 1 / 11])
    assert result.answer == "7" and "alpha\n\n\\boxed{7}" in [s.text for s in result.samples]
    assert details["tree"][reference]["survived"]


def test_a_resampled_reference_prefix_is_continued_in_a_new_way():
    """When a copy of the reference's prefix is drawn, it is cut to the current step and
    extended: its next node's parent is the reference's node from the last sweep."""
    verifier = StepRewards(GIBBS_REWARDS)
    for seed in range(30):
        _, result = run(
            _gibbs_script(), verifier, particles=3, max_steps=4, iterations=2, seed=seed,
        )  # fmt: skip
        tree = result.details["tree"]
        crossing = [
            n for n in tree
            if n["iteration"] == 1 and n["parent"] is not None
            and tree[n["parent"]]["iteration"] == 0
        ]  # fmt: skip
        if crossing:
            assert all(
                n["step"] == 2 and tree[n["parent"]]["text"] == "alpha\n\n" for n in crossing
            )
            return
    pytest.fail("no seed drew the reference's prefix")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"iterations": 2, "particles": 2, "reference_particles": 2}, "must be fewer than"),
        ({"particles": 0}, "particles"),
        ({"weight_temperature": 0}, "weight_temperature"),
        ({"selection": "best"}, "selection"),
        ({"aggregation": "mean"}, "aggregation"),
        ({"beams": 2}, "beams"),
    ],
)
def test_bad_params_are_refused(params, message):
    with pytest.raises(ThinktimeError, match=message):
        solve("?", backend=FakeBackend(), strategy="particle_filtering", params=params)


def test_self_certainty_scores_each_step_by_the_models_own_certainty():
    def script(request, index):
        text = steps_so_far(request)
        if not text:
            return ["sure sure", "maybe perhaps"][index % 2]
        return "\\boxed{1}" if text.startswith("sure") else "\\boxed{2}"

    backend = FakeBackend(script, confidence=lambda token: 5.0 if "sure" in token else 0.2)
    result = solve(
        "?", backend=backend, strategy="particle_filtering", verifier="self_certainty",
        particles=4, seed=0,
    )  # fmt: skip
    tree = result.details["tree"]
    sure = [n["score"] for n in tree if n["text"].startswith("sure")]
    unsure = [n["score"] for n in tree if n["text"].startswith("maybe")]
    assert min(sure) > max(unsure)
    assert all(r.n and backend.calls[0][1].top_logprobs for r in backend.calls[0][0])


@pytest.mark.integration
def test_particle_filtering_on_the_real_model(embedded):
    result = solve(
        EASY, backend=embedded, strategy="particle_filtering", particles=3, max_steps=4,
        step_tokens=64, seed=3,
    )  # fmt: skip
    assert result.answer is not None
    assert result.bill.verifier_tokens > 0
    assert all(0.0 <= s <= 1.0 for s in result.details["scores"])
    tree = result.details["tree"]
    assert tree and all(n["parent"] is None or n["parent"] < n["id"] for n in tree)
    assert any(n["survived"] for n in tree)
