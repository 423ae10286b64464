"""Task loaders: each source, selection, and clear errors for bad paths and fields."""

import json
from pathlib import Path

import pytest

from thinktime.backends.fake import FakeBackend
from thinktime.errors import ThinktimeError
from thinktime.tasks import Problem, Task, load_task
from thinktime.verifiers.gold import GoldVerifier, Grader, ScorerVerifier

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / "gsm8k" / "test.jsonl").is_file(), reason="no ../shared/data"
)


@needs_data
def test_gsm8k_from_path_and_data_dir(monkeypatch):
    task = load_task(f"gsm8k:{DATA / 'gsm8k' / 'test.jsonl'}", limit=3)
    assert [p.id for p in task.problems] == ["gsm8k/test/0", "gsm8k/test/1", "gsm8k/test/2"]
    assert task.problems[0].gold == "18"
    monkeypatch.setenv("THINKTIME_DATA", str(DATA))
    assert load_task("gsm8k", limit=1, offset=5).problems[0].id == "gsm8k/test/5"
    everything = load_task("gsm8k").problems
    assert len(everything) == 1319
    assert all("," not in p.gold for p in everything)  # thousands separators dropped


@needs_data
def test_seeded_subset_is_reproducible(monkeypatch):
    monkeypatch.setenv("THINKTIME_DATA", str(DATA))
    a = [p.id for p in load_task("gsm8k", limit=5, seed=7).problems]
    assert a == [p.id for p in load_task("gsm8k", limit=5, seed=7).problems]
    assert a != [p.id for p in load_task("gsm8k", limit=5).problems]


@needs_data
def test_math500_with_level_filter(monkeypatch):
    monkeypatch.setenv("THINKTIME_DATA", str(DATA))
    task = load_task("math500", level=1)
    assert task.problems and all(p.meta["level"] == 1 for p in task.problems)
    assert task.grade(task.problems[0], task.problems[0].gold) == 1.0


def test_reasoning_gym_family_and_grader():
    pytest.importorskip("reasoning_gym")
    task = load_task("reasoning_gym:chain_sum", size=3, seed=1)
    assert len(task.problems) == 3
    problem = task.problems[0]
    assert task.grade(problem, problem.gold) == 1.0
    assert task.grade(problem, None) == 0.0
    assert isinstance(task.grader(problem), ScorerVerifier)  # the family's own scorer
    with pytest.raises(ThinktimeError, match="could not build 'no_such_family'"):
        load_task("reasoning_gym:no_such_family", size=1)


def test_jsonl_fields_and_errors(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"q": "2+2?", "a": 4, "id": "x1"}) + "\n\n")
    task = load_task(f"jsonl:{path}", question_field="q", answer_field="a", id_field="id")
    assert (task.problems[0].id, task.problems[0].gold) == ("x1", "4")
    with pytest.raises(ThinktimeError, match=r"has no field 'question' \(it has: q, a, id\)"):
        load_task(f"jsonl:{path}")
    path.write_text("{not json\n")
    with pytest.raises(ThinktimeError, match=r"qa\.jsonl:1 is not JSON"):
        load_task(f"jsonl:{path}")


def test_bad_specs():
    with pytest.raises(ThinktimeError, match="unknown task 'gsm9k'; choose one of"):
        load_task("gsm9k")
    with pytest.raises(ThinktimeError, match=r"data file not found: /nope/test\.jsonl"):
        load_task("gsm8k:/nope/test.jsonl")
    with pytest.raises(ThinktimeError, match="needs an argument"):
        load_task("jsonl")
    with pytest.raises(ThinktimeError, match="task 'gsm8k' takes no 'colour' option"):
        load_task("gsm8k:/x.jsonl", colour="red")


def test_hub_unreachable_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("THINKTIME_DATA", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ThinktimeError, match=r"could not load openai/gsm8k.*THINKTIME_DATA"):
        load_task("gsm8k")


def test_a_task_carries_its_grader_and_grades_through_it(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    task = load_task(f"jsonl:{path}")
    grader = task.grader(task.problems[0])
    assert isinstance(grader, GoldVerifier) and isinstance(grader, Grader)
    assert (task.grade(task.problems[0], "4.0"), task.grade(task.problems[0], "5")) == (1.0, 0.0)
    # any grader goes: the task asks it, not the gold answer
    odd = Task("odd", [Problem("o/0", "?", "4")], lambda p: ScorerVerifier(lambda a: 1.0))
    assert odd.grade(odd.problems[0], "5") == 1.0
    # and a grader is a verifier: it can pick among candidates (an oracle best-of-n)
    from thinktime import solve

    backend = FakeBackend(["\\boxed{5}", "\\boxed{4}", "\\boxed{5}"])
    result = solve("2+2?", backend=backend, strategy="best_of_n", n=3, verifier=grader)
    assert result.answer == "4"


def test_reasoning_gym_takes_limit_and_offset_and_builds_only_that_slice():
    from thinktime.tasks.reasoning_gym import load as load_gym

    whole = load_gym("basic_arithmetic", size=20, seed=1)
    part = load_gym("basic_arithmetic", size=20, seed=1, limit=4, offset=10)
    assert [p.id for p in part.problems] == [p.id for p in whole.problems[10:14]]
    assert [p.question for p in part.problems] == [p.question for p in whole.problems[10:14]]
    assert [p.id for p in load_gym("basic_arithmetic", size=12, seed=1, offset=10).problems] == [
        "reasoning_gym/basic_arithmetic/1/10",
        "reasoning_gym/basic_arithmetic/1/11",
    ]


def test_bench_limit_binds_for_reasoning_gym(tmp_path):
    from typer.testing import CliRunner

    from thinktime.bench.store import Store
    from thinktime.cli import app

    store = tmp_path / "rg.db"
    args = ["bench", "--task", "reasoning_gym:basic_arithmetic", "--limit", "3", "--offset", "5"]
    result = CliRunner().invoke(app, [*args, "--model", "fake", "--store", str(store)])
    assert result.exit_code == 0, result.output
    ids = sorted(r["question_id"] for r in Store(store).results())
    assert ids == [f"reasoning_gym/basic_arithmetic/0/{i}" for i in (5, 6, 7)]


def test_reasoning_gym_knobs_set_the_difficulty_and_name_the_task():
    pytest.importorskip("reasoning_gym")
    easy = load_task("reasoning_gym:chain_sum:max_terms=2,max_digits=1", size=8)
    default = load_task("reasoning_gym:chain_sum", size=8)
    # the knobs reach the family's config: two one-digit terms only
    assert all(len(p.meta["entry"]["metadata"]["expression"].split()) == 3 for p in easy.problems)
    assert all(p.meta["entry"]["metadata"]["num_digits"] == 1 for p in easy.problems)
    # they are part of the task's name and of every id (sorted), so stores never mix them
    assert easy.name == "reasoning_gym:chain_sum:max_digits=1,max_terms=2"
    assert easy.problems[0].id == "reasoning_gym/chain_sum:max_digits=1,max_terms=2/0/0"
    assert default.problems[0].id == "reasoning_gym/chain_sum/0/0"
    with pytest.raises(ThinktimeError, match="its knobs: min_terms, max_terms"):
        load_task("reasoning_gym:chain_sum:max_term=2", size=1)
    with pytest.raises(ThinktimeError, match="write FAMILY:KNOB=VALUE"):
        load_task("reasoning_gym:chain_sum:max_terms", size=1)


def test_a_task_refuses_an_option_its_loader_does_not_take():
    # the CLI passes every option it was given; the task's loader declares what it takes
    with pytest.raises(ThinktimeError, match="task 'gsm8k' takes no 'level' option; its opt"):
        load_task("gsm8k", level=3)
    with pytest.raises(ThinktimeError, match="task 'jsonl' takes no 'size' option"):
        load_task("jsonl:whatever.jsonl", size=5)
    from typer.testing import CliRunner

    from thinktime.cli import app

    result = CliRunner().invoke(app, ["bench", "--task", "gsm8k", "--level", "3", "-m", "fake"])
    assert result.exit_code == 2 and "takes no 'level' option" in result.output
