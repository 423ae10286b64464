"""`thinktime export` (issue 28): a bench store in lm-eval's layout, as Every Eval Ever records
(validated with jsonschema against EvalEval's schema), as Hugging Face `.eval_results` YAML
(parsed back), and as Inspect logs; a bad format, model or config refused in one line.

The store is made by the bench runner on the scripted backend: the viewer's toy store (two
models × cot / self_consistency:n=4 over six questions, verdicts mixed) plus a gsm8k run of a
known model name (so the Hub dataset and model id are filled) and one agent's answer (a run
with tools).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers.view_store import QUESTIONS, make_store
from thinktime.backends.fake import FakeBackend
from thinktime.bench.results import summarize
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import SampleRow, StepRow, Store
from thinktime.cli import app
from thinktime.exports import EXPORTS
from thinktime.exports.every_eval_ever import schema
from thinktime.tasks import Problem, Task

runner = CliRunner()
QWEN = "qwen2.5-coder-0.5b"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = make_store(tmp_path_factory.mktemp("exports") / "runs.db")
    store = Store(path)
    gsm8k = Task("gsm8k", [Problem(f"gsm8k/{i}", f"1 + 1 ({i})?", "2") for i in range(3)])
    run_sweep(gsm8k, {QWEN: FakeBackend(["so \\boxed{2}"])}, ["self_consistency:n=4"], store)
    step = StepRow("[]", "{}", None, False, "[]", "[]", "4", 5, 3, 1)
    store.add({"task": "gsm8k_tools", "question_id": "gsm8k/0", "model": QWEN,
               "config": "tool_vote:n=2", "strategy": "tool_vote", "params": {"n": 2},
               "gold": "4", "answer": "4", "verdict": "correct", "question": "2+2?",
               "prompt_tokens": 20, "completion_tokens": 8, "seconds": 0.5},
              [SampleRow("\\boxed{4}", "4", "correct", "stop", 8)], [step])  # fmt: skip
    store.close()
    return path


def export(store_path: Path, fmt: str, out: Path, *more: str):  # type: ignore[no-untyped-def]
    args = ["export", "--store", str(store_path), "--format", fmt, "--out", str(out), *more]
    return runner.invoke(app, args)


def written(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def test_every_format_is_registered_in_order():
    assert list(EXPORTS) == ["lm-eval", "every-eval-ever", "hf-eval-results", "inspect"]


def test_lm_eval_export_is_what_the_viewer_writes(store_path, tmp_path):
    result = export(store_path, "lm-eval", tmp_path / "a")
    assert result.exit_code == 0, result.output
    viewer = runner.invoke(
        app, ["view", "--store", str(store_path), "--export", str(tmp_path / "b")]
    )
    assert viewer.exit_code == 0, viewer.output
    files = written(tmp_path / "a")
    assert files == written(tmp_path / "b")
    assert sorted(result.stdout.split()) == sorted(str(tmp_path / "a" / f) for f in files)
    # the qwen model's runs span two tasks: the results files name the task
    assert {f.name for f in files if f.parts[0] == QWEN} == {
        "results_gsm8k_self_consistency_n-4.json", "samples_gsm8k_self_consistency_n-4.jsonl",
        "results_gsm8k_tools_tool_vote_n-2.json", "samples_gsm8k_tools_tool_vote_n-2.jsonl",
    }  # fmt: skip
    document = json.loads((tmp_path / "a" / "fake-a" / "results_cot.json").read_text())
    assert document["results"]["toy"]["acc,none"] == 0.5
    lines = (tmp_path / "a" / "fake-a" / "samples_toy_cot.jsonl").read_text().splitlines()
    assert len(lines) == QUESTIONS


def test_every_eval_ever_records_validate_against_the_schema(store_path, tmp_path):
    result = export(store_path, "every-eval-ever", tmp_path)
    assert result.exit_code == 0, result.output
    aggregates = sorted(tmp_path.glob("data/*/*/*/*.json"))
    assert len(aggregates) == 6  # 4 toy runs, gsm8k, gsm8k_tools
    check_record, check_line = (
        jsonschema.Draft7Validator(schema(name)) for name in ("eval", "instance_level_eval")
    )
    summaries = {(s.model, s.config): s for s in summarize(Store(store_path, readonly=True))}
    for path in aggregates:
        record = json.loads(path.read_text())
        check_record.validate(record)
        detail = record["detailed_evaluation_results"]
        samples = path.with_name(f"{path.stem}_samples.jsonl")
        assert detail["file_path"] == samples.relative_to(tmp_path).as_posix()
        assert detail["checksum"] == hashlib.sha256(samples.read_bytes()).hexdigest()
        lines = [json.loads(x) for x in samples.read_text().splitlines()]
        assert detail["total_rows"] == len(lines)
        for line in lines:
            check_line.validate(line)
            assert line["evaluation_id"] == record["evaluation_id"]
            usage = line["token_usage"]
            assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
        accuracy, *costs = record["evaluation_results"]
        run = (record["model_info"]["name"], accuracy["generation_config"]["additional_details"][
            "config"])  # fmt: skip
        assert accuracy["score_details"]["score"] == summaries[run].accuracy
        assert {c["metric_config"]["metric_id"] for c in costs} >= {
            "thinktime.completion_tokens_per_question",
            "thinktime.seconds_per_question",
        }
        assert all(c["metric_config"]["lower_is_better"] for c in costs)
        tokens = next(c for c in costs if c["metric_config"]["metric_unit"] == "tokens")
        assert tokens["score_details"]["score"] == summaries[run].tokens
    [qwen] = [json.loads(p.read_text()) for p in tmp_path.glob("data/gsm8k/Qwen/*/*.json")]
    assert qwen["model_info"]["id"] == "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF"
    assert qwen["evaluation_results"][0]["source_data"]["hf_repo"] == "openai/gsm8k"
    again = export(store_path, "every-eval-ever", tmp_path)  # the same files, rewritten
    assert again.exit_code == 0 and len(list(tmp_path.glob("data/*/*/*/*.json"))) == 6


def test_hf_eval_results_parse_back_one_file_per_variant(store_path, tmp_path):
    result = export(store_path, "hf-eval-results", tmp_path)
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("*/.eval_results/*.yaml"))
    assert len(files) == 6
    qwen = tmp_path / QWEN / ".eval_results"
    [entry] = yaml.safe_load((qwen / "gsm8k_self_consistency_n-4.yaml").read_text())
    assert entry["dataset"] == {"id": "openai/gsm8k", "task_id": "gsm8k"}
    assert entry["value"] == 100.0 and re.fullmatch(r"\d{4}-\d\d-\d\d", str(entry["date"]))
    assert entry["notes"].startswith("thinktime self_consistency:n=4; ")
    [tools] = yaml.safe_load((qwen / "gsm8k_tools_tool_vote_n-2.yaml").read_text())
    assert "With tools" in tools["notes"] and tools["dataset"]["id"] == "openai/gsm8k"
    [toy] = yaml.safe_load((tmp_path / "fake-a" / ".eval_results" / "toy_cot.yaml").read_text())
    assert toy["value"] == 50.0 and toy["dataset"]["id"] == "toy"


def test_model_and_config_pick_the_runs(store_path, tmp_path):
    result = export(store_path, "hf-eval-results", tmp_path, "-m", "fake-b", "-s", "cot")
    assert result.exit_code == 0, result.output
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*.yaml")] == [
        Path("fake-b/.eval_results/toy_cot.yaml")
    ]


def test_inspect_export_opens_in_inspects_log_reader(store_path, tmp_path):
    pytest.importorskip("inspect_ai", reason="the inspect export needs the inspect extra")
    try:
        import thinktime.exports.inspect_log  # noqa: F401
    except ImportError:
        pytest.skip("thinktime.exports.inspect_log is not written yet (the Inspect helper's)")
    from inspect_ai.log import read_eval_log

    result = export(store_path, "inspect", tmp_path, "-m", "fake-a")
    assert result.exit_code == 0, result.output
    logs = [Path(line) for line in result.stdout.split()]
    assert len(logs) == 2
    for log in logs:
        assert len(read_eval_log(str(log)).samples or []) == QUESTIONS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "unknown export format 'xml'; choose one of: lm-eval, "
         "every-eval-ever, hf-eval-results, inspect"),
        (["--format", "lm-eval", "-m", "gpt-9"], "the store holds no run of model 'gpt-9'"),
        (["--format", "lm-eval", "-s", "cot:n=3"], "no run of config 'cot:n=3'; its configs: "),
    ],
)  # fmt: skip
def test_a_bad_format_model_or_config_is_one_line(store_path, tmp_path, args, message):
    result = runner.invoke(
        app, ["export", "--store", str(store_path), "--out", str(tmp_path), *args]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_a_missing_store_is_one_line(tmp_path):
    result = export(tmp_path / "nope.db", "lm-eval", tmp_path / "out")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "nope.db" in result.stderr
