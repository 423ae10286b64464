"""The CLI: bad input is one line on stderr, exit code 2, no traceback."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from thinktime.cli import app

runner = CliRunner()


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    code = "from thinktime.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["solve", "2+2?", "--model", "gpt-99"], "unknown model 'gpt-99'"),
        (
            ["solve", "2+2?", "--model", "/nope/missing.gguf"],
            "model file not found: /nope/missing.gguf",
        ),
        (["solve", "2+2?", "--strategy", "vote"], "unknown strategy 'vote'; choose one of"),
        (["solve", "2+2?", "-s", "self_consistency", "-n", "0"], "n must be at least 1"),
        (["solve", "  "], "the question is empty"),
        (["solve", "2+2?", "-p", "oops"], "bad --param 'oops'"),
        (["solve", "2+2?", "--effort", "max"], "unknown reasoning_effort 'max'"),
        (["solve", "2+2?", "--budget-tokens", "0"], "bad budget"),
        (["solve", "2+2?", "-s", "best_of_n", "--verifier", "oracle"], "unknown verifier 'oracle'"),
        (
            ["solve", "2+2?", "-s", "route", "-p", "probe_n=0"],
            "bad parameters for strategy 'route'",
        ),
    ],
)
def test_bad_input_is_one_line(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_hash_mismatch_via_cli(tmp_path, monkeypatch):
    from tests.test_models import _toy

    monkeypatch.setenv("THINKTIME_CACHE", str(tmp_path / "cache"))
    _toy(tmp_path, monkeypatch, b"GGUF-0123456789", sha="0" * 64)
    result = runner.invoke(app, ["solve", "2+2?", "--model", "toy"])
    assert result.exit_code == 2
    assert "sha256 mismatch" in result.output and "Traceback" not in result.output


def test_strategies_lists_every_strategy():
    result = runner.invoke(app, ["strategies"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in (
        "direct", "cot", "self_consistency", "best_of_n", "verify_revise", "adaptive_consistency",
        "budget_forcing", "beam_search", "dvts", "route",
    ):  # fmt: skip
        assert name in result.output
    assert "arXiv:2203.11171" in result.output


def test_models_lists_known_models():
    result = runner.invoke(app, ["models"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "qwen2.5-coder-0.5b (default)" in result.output
    assert "smollm2-135m" in result.output and "qwen2.5-coder-1.5b" in result.output


@pytest.mark.integration
def test_solve_json_on_the_embedded_model():
    result = run_cli("solve", "What is 2 + 3?", "--strategy", "direct", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answer"] == "5"
    assert data["bill"]["flops"] > 0 and data["bill"]["completion_tokens"] > 0
    assert data["model"] == "qwen2.5-coder-0.5b"


def test_bench_and_report_with_the_scripted_backend(tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "q?", "answer": "42"}\n{"question": "r?", "answer": "7"}\n')
    store = tmp_path / "runs" / "qa.db"
    args = ["bench", "--task", f"jsonl:{data}", "--model", "fake", "--store", str(store)]
    result = runner.invoke(
        app, [*args, "-s", "cot", "-s", "self_consistency:n=4"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "50.0%" in result.output and "correct 1, wrong 1" in result.output
    assert store.with_suffix(".html").is_file()
    again = runner.invoke(app, ["report", str(store)], env={"COLUMNS": "200"})
    assert again.exit_code == 0 and "self_consistency:n=4" in again.output


def test_bench_and_report_errors(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "results file not found" in result.output
    result = runner.invoke(app, ["bench", "--task", "gsm9k", "--model", "fake"])
    assert result.exit_code == 2 and "unknown task 'gsm9k'" in result.output
    bad = runner.invoke(app, ["bench", "--task", "gsm8k", "--model", "fake", "-s", "vote"])
    assert bad.exit_code == 2 and "unknown strategy 'vote'" in bad.output
