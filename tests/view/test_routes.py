"""The viewer's JSON routes: shapes on a scripted-sweep store, and bad input (404 JSON, 4xx)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict

import pytest
from fastapi.testclient import TestClient

from tests.helpers.tree_store import HOSTILE, QUESTION, make_tree_store
from tests.helpers.tree_store import script as tree_script
from tests.helpers.view_store import CONFIGS, QUESTIONS, make_store
from thinktime.bench.results import summarize
from thinktime.bench.store import MIGRATIONS, Store, _statements
from thinktime.serve.recent import Recent
from thinktime.types import Bill, Result, Sample
from thinktime.view.app import create_view_app


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("view") / "toy.db")


@pytest.fixture(scope="module")
def client(store_path):
    return TestClient(create_view_app([store_path], warm=False))


def test_stores_lists_the_named_store_with_its_counts(client):
    [info] = client.get("/api/stores").json()
    assert info["name"] == "toy" and info["runs"] == 4
    assert info["results"] == 4 * QUESTIONS and info["samples"] == 2 * QUESTIONS * (1 + 4)


def test_runs_are_the_reports_numbers(client, store_path):
    runs = client.get("/api/stores/toy/runs").json()["runs"]
    assert [(r["id"], r["model"], r["config"]) for r in runs] == [
        (0, "fake-a", CONFIGS[0]), (1, "fake-a", CONFIGS[1]),
        (2, "fake-b", CONFIGS[0]), (3, "fake-b", CONFIGS[1]),
    ]  # fmt: skip
    store = Store(store_path, readonly=True)
    expected = {(s.model, s.config): s for s in summarize(store)}
    store.close()
    for run in runs:
        summary = expected[(run["model"], run["config"])]
        assert run["n"] == QUESTIONS and run["accuracy"] == summary.accuracy
        assert tuple(run["ci"]) == summary.ci and run["tokens"] == summary.tokens
        assert sum(run["verdicts"].values()) == QUESTIONS
    # the script's cot answers for questions 0..5 under fake-a: wrong, right, right, none,
    # wrong, right (a result with no chosen sample is graded as an empty answer by the bench)
    assert runs[0]["verdicts"] == {
        "correct": 3, "wrong": 2, "unparseable": 0, "empty": 1, "truncated": 0
    }  # fmt: skip


def test_curves_have_a_point_per_k_and_a_frontier(client):
    points = client.get("/api/stores/toy/curves").json()["points"]
    pool = [p["k"] for p in points if p["run"] == 1]
    assert pool == [1, 2, 4] and [p["k"] for p in points if p["run"] == 0] == [None]
    assert any(p["pareto_tokens"] for p in points) and any(p["pareto_flops"] for p in points)
    cheapest = min(points, key=lambda p: (p["tokens"], -p["accuracy"]))
    assert cheapest["pareto_tokens"]


def test_questions_filter_sort_and_page(client):
    everything = client.get("/api/stores/toy/questions", params={"run": 0}).json()
    assert everything["total"] == QUESTIONS
    assert [q["question_id"] for q in everything["questions"]] == [f"toy/{i}" for i in range(6)]
    wrong = client.get("/api/stores/toy/questions", params={"run": 0, "verdict": "wrong"}).json()
    assert wrong["total"] == 2 and {q["verdict"] for q in wrong["questions"]} == {"wrong"}
    page = client.get(
        "/api/stores/toy/questions", params={"run": 1, "size": 4, "page": 2, "sort": "agreement"}
    ).json()
    assert page["total"] == QUESTIONS and len(page["questions"]) == 2
    agreements = [q["agreement"] for q in page["questions"]]
    assert all(0 < a <= 1 for a in agreements) and agreements == sorted(agreements)
    # solved by fake-b's cot but not by fake-a's cot
    only = client.get(
        "/api/stores/toy/questions", params={"run": 2, "solved_by": 2, "missed_by": 0}
    ).json()
    ids = {q["question_id"] for q in only["questions"]}
    pair = client.get("/api/stores/toy/compare", params={"a": 0, "b": 2}).json()
    assert ids == set(pair["only_b_ids"]) and pair["only_b"] == len(ids) > 0
    assert pair["both"] + pair["only_a"] + pair["only_b"] + pair["neither"] == QUESTIONS
    # the paired difference: b − a on the common questions, with its CI and McNemar's p
    assert pair["difference"] == (pair["only_b"] - pair["only_a"]) / pair["common"]
    assert pair["ci"][0] <= pair["difference"] <= pair["ci"][1] and 0 < pair["p_value"] <= 1


def test_one_question_shows_every_sample_its_answer_and_the_vote(client):
    detail = client.get("/api/stores/toy/questions/toy/1").json()
    assert detail["question_id"] == "toy/1" and len(detail["answers"]) == 4
    assert {a["question"] for a in detail["answers"]} == {"1 + 1?"}  # the text as asked
    pool = next(a for a in detail["answers"] if a["run"] == 1)
    assert pool["gold"] == "2" and len(pool["samples"]) == 4
    for sample in pool["samples"]:
        if sample["answer"] is None:
            assert sample["highlight"] is None and sample["verdict"] == "unparseable"
        else:
            start, end = sample["highlight"]
            assert sample["answer"] in sample["text"][start:end]
            assert sample["text"][start:end] == f"\\boxed{{{sample['answer']}}}"
    votes = {v["answer"]: v for v in pool["votes"]}
    # question 1, samples 0..3 under fake-a: kinds 1, 2, 3, 0 → 2, 2, none, 8
    assert votes["2"]["votes"] == 2 and votes["2"]["chosen"] and votes["8"]["votes"] == 1
    assert pool["bill"]["completion_tokens"] > 0 and pool["answer"] == "2"


def test_export_is_lm_eval_layout(client):
    exported = client.get("/api/stores/toy/runs/0/export").json()
    metrics = exported["results"]["results"]["toy"]
    assert metrics["acc,none"] == 0.5
    assert metrics["acc_stderr,none"] == pytest.approx((0.3 / 6) ** 0.5)  # stdev 0.5477 / √6
    assert metrics["thinktime_completion_tokens_per_question,none"] > 0
    lines = exported["samples"]
    assert len(lines) == QUESTIONS and {line["acc"] for line in lines} == {0.0, 1.0}
    assert lines[1]["target"] == "2" and lines[1]["filtered_resps"] == ["2"]


def test_the_cli_export_writes_results_and_samples_files(store_path, tmp_path):
    from typer.testing import CliRunner

    from thinktime.cli import app

    out = tmp_path / "lm-eval"
    result = CliRunner().invoke(app, ["view", "--store", str(store_path), "--export", str(out)])
    assert result.exit_code == 0, result.output
    printed = sorted(result.stdout.split())  # each file it wrote, one line each
    assert printed == sorted(str(p) for p in out.rglob("*") if p.is_file())
    assert f"wrote {len(printed)} files to {out}" in result.stderr
    results = sorted(out.glob("*/results_*.json"))
    samples = sorted(out.glob("*/samples_toy_*.jsonl"))
    assert len(results) == 4 and len(samples) == 4
    document = json.loads((out / "fake-a" / "results_cot.json").read_text())
    assert document["results"]["toy"]["acc,none"] == 0.5
    assert len((out / "fake-a" / "samples_toy_cot.jsonl").read_text().splitlines()) == QUESTIONS


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/stores/nope/runs", 404),
        ("/api/stores/..%2Ftoy/runs", 404),
        ("/api/stores/%2Fetc%2Fpasswd/questions?run=0", 404),
        ("/api/stores/toy/questions?run=9", 404),
        ("/api/stores/toy/questions/toy/999", 404),
        ("/api/stores/toy/runs/7/export", 404),
        ("/api/stores/toy/compare?a=0&b=99", 404),
        ("/api/live/3", 404),
        ("/static/../../pyproject.toml", 404),
        ("/api/stores/toy/questions?run=0&page=0", 422),
        ("/api/stores/toy/questions?run=0&size=100000", 422),
        ("/api/stores/toy/questions?run=0&page=abc", 422),
        ("/api/stores/toy/questions?run=-1", 422),
        ("/api/stores/toy/questions", 422),
        ("/api/stores/toy/questions?run=0&verdict=great", 422),
        ("/api/stores/toy/questions?run=0&sort=__class__", 422),
        ("/api/stores/toy/questions?run=0&solved_by=x", 422),
        ("/api/stores/toy/compare?a=0", 422),
    ],
)
def test_bad_input_is_a_json_4xx(client, url, status):
    reply = client.get(url)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["message"]


def test_a_path_outside_the_named_stores_is_refused(client, store_path, tmp_path):
    other = make_store(tmp_path / "other.db")
    for name in (str(other), other.stem, "other"):
        assert client.get("/api/stores/" + name.replace("/", "%2F") + "/runs").status_code == 404
    assert [s["name"] for s in client.get("/api/stores").json()] == ["toy"]


def test_the_store_is_opened_read_only(store_path):
    assert not store_path.with_name("toy.db-wal").exists()
    before = store_path.read_bytes()
    client = TestClient(create_view_app([store_path], warm=False))
    assert client.get("/api/stores/toy/runs").status_code == 200
    assert store_path.read_bytes() == before
    assert not store_path.with_name("toy.db-wal").exists()


def test_a_store_written_meanwhile_is_reread(tmp_path):
    path = make_store(tmp_path / "grow.db")
    client = TestClient(create_view_app([path], warm=False))
    assert client.get("/api/stores/grow/runs").json()["runs"][0]["n"] == QUESTIONS
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM results WHERE question_id = 'toy/0'")
    assert client.get("/api/stores/grow/runs").json()["runs"][0]["n"] == QUESTIONS - 1


def test_live_answers_come_from_the_ring_buffer():
    recent = Recent(2)
    client = TestClient(create_view_app([], recent=recent, warm=False))
    assert client.get("/api/live").json() == {"enabled": True, "size": 2, "answers": []}
    samples = (Sample("so \\boxed{5}", "5", "stop", 4, 0, score=0.9),
               Sample("maybe 6", "6", "stop", 2, 0, score=0.2))  # fmt: skip
    for question in ("1+4?", "2+3?", "0+5?"):
        recent.add("self_consistency/qwen", Result(question, "5", "self_consistency", "qwen",
                   samples, votes={"5": 1, "6": 1}, chosen=0, bill=Bill(completion_tokens=6),
                   details={"steps": 2}))  # fmt: skip
    rows = client.get("/api/live").json()["answers"]
    assert [r["id"] for r in rows] == [3, 2] and rows[0]["question"] == "0+5?"
    [answer] = client.get("/api/live/3").json()["answers"]
    assert answer["bill"]["completion_tokens"] == 6 and answer["details"] == {"steps": 2}
    assert [v["answer"] for v in answer["votes"]] == ["5", "6"] and answer["votes"][0]["chosen"]
    assert answer["samples"][0]["highlight"] == [3, 12]
    assert client.get("/api/live/1").status_code == 404  # dropped from the ring


def test_serve_keeps_recent_answers_only_when_asked():
    from thinktime.backends.fake import FakeBackend
    from thinktime.serve.app import ServerConfig, create_app

    body = {"model": "cot/qwen", "messages": [{"role": "user", "content": "2+3?"}]}
    plain = create_app(FakeBackend(["\\boxed{5}"]), ServerConfig(model="qwen"))
    local = TestClient(plain, base_url="http://127.0.0.1")
    assert local.post("/v1/chat/completions", json=body).status_code == 200
    assert plain.state.recent is None
    app = create_app(FakeBackend(["\\boxed{5}"]), ServerConfig(model="qwen", recent=8))
    app.mount("/view", create_view_app([], recent=app.state.recent, warm=False))
    client = TestClient(app, base_url="http://127.0.0.1")
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    streamed = client.post("/v1/chat/completions", json={**body, "stream": True})
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    rows = client.get("/view/api/live").json()["answers"]
    assert [r["answer"] for r in rows] == ["5", "5"] and rows[0]["model"] == "cot/qwen"
    page = client.get("/view/live")
    assert page.status_code == 200 and 'content="/view"' in page.text


def test_view_cli_refuses_bad_input_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from thinktime.cli import app

    runner = CliRunner()
    for args, message in [
        (["view"], "name at least one store"),
        (["view", "--store", str(tmp_path / "missing.db")], "results file not found"),
        (["view", "--store", str(tmp_path)], "is a folder"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output, result.output


# ---- a step search's tree, from a store and live


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    return make_tree_store(tmp_path_factory.mktemp("trees") / "trees.db")


def test_a_stored_step_search_comes_with_its_tree(trees):
    client = TestClient(create_view_app([trees], warm=False))
    answers = client.get("/api/stores/trees/questions/apples/0").json()["answers"]
    assert {a["strategy"] for a in answers} == {"beam_search", "particle_filtering"}
    store = Store(trees, readonly=True)
    ids = {r["config"]: r["id"] for r in store.results()}
    for answer in answers:
        tree = answer["tree"]
        assert tree == [asdict(node) for node in store.tree(ids[answer["config"]])]
        assert len(tree) == 8 and answer["note"] is None  # no "not the tree of steps" note
        # the chosen path reads as the chosen answer's text; the hostile step is there as data
        path = "".join(n["text"] for n in tree if n["chosen"])
        assert path in {s["text"] for s in answer["samples"]} and "\\boxed{26}" in path
        assert any(HOSTILE in n["text"] and not n["kept"] for n in tree)
    store.close()


def test_a_step_search_stored_before_trees_says_it_has_none(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:6]:
        for statement in _statements(script):
            db.execute(statement)
    db.execute("PRAGMA user_version = 6")
    db.execute(
        "INSERT INTO results (task, question_id, model, config, strategy, params, verdict) "
        "VALUES ('t', 'q', 'm', 'beam_search', 'beam_search', '', 'wrong')"
    )
    db.commit()
    db.close()
    client = TestClient(create_view_app([path], warm=False))
    [answer] = client.get("/api/stores/old/questions/q").json()["answers"]
    assert answer["tree"] is None and "no tree of steps" in answer["note"]


def test_a_live_step_search_shows_its_tree():
    from thinktime.backends.fake import FakeBackend
    from thinktime.serve.app import ServerConfig, create_app

    app = create_app(FakeBackend(tree_script), ServerConfig(model="fake", recent=8))
    app.mount("/view", create_view_app([], recent=app.state.recent, warm=False))
    client = TestClient(app, base_url="http://127.0.0.1")
    messages = [{"role": "user", "content": QUESTION.question}]
    for model in ("beam_search/fake", "cot/fake"):
        body = {
            "model": model,
            "messages": messages,
            "thinktime": {"params": {"beams": 2, "expand": 2}} if "beam" in model else {},
        }
        assert client.post("/v1/chat/completions", json=body).status_code == 200, model
    [beam] = client.get("/view/api/live/1").json()["answers"]
    assert len(beam["tree"]) == 8 and "tree" not in beam["details"] and beam["note"] is None
    assert "".join(n["text"] for n in beam["tree"] if n["chosen"]).endswith("\\boxed{26}")
    [cot] = client.get("/view/api/live/2").json()["answers"]
    assert cot["tree"] is None and cot["note"] is None
