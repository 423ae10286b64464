"""A sweep config names the verifier its strategy scores with (`verifier=NAME`), parsed once
with the config and given to every item; a strategy that takes none refuses it before compute."""

from __future__ import annotations

import pytest

from thinktime.backends.fake import FakeBackend
from thinktime.bench.configs import parse_config
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.errors import ThinktimeError
from thinktime.tasks import Problem, Task

ANSWER = "Two and three make five. \\boxed{5}"


def verifier_tokens(store: Store, config: str) -> list[int]:
    return [row["verifier_tokens"] for row in store.results() if row["config"] == config]


def test_the_configs_verifier_scores_its_candidates(tmp_path):
    task = Task("toy", [Problem("toy/0", "2+3?", "5")])
    store = Store(tmp_path / "toy.db")
    judged, certain = "best_of_n:n=2", "best_of_n:n=2,verifier=self_certainty"
    backend = FakeBackend([ANSWER, "\\boxed{0.9}"])
    assert run_sweep(task, {"fake": backend}, [judged, certain], store) == 2
    assert verifier_tokens(store, judged)[0] > 0  # the default: the model judges each candidate
    assert verifier_tokens(store, certain) == [0]  # self-certainty reads logprobs: no calls


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("cot:verifier=judge", "takes no verifier"),
        ("best_of_n:verifier=oracle", "unknown verifier 'oracle'"),
    ],
)
def test_a_verifier_the_run_cannot_use_is_refused_at_parse(config, says):
    with pytest.raises(ThinktimeError, match=says):
        parse_config(config)
