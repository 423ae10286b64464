"""The CLI: bad input is one line on stderr, exit code 2, no traceback."""

import json
import re
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
        (["solve", "2+2?", "--budget-tokens", "0"], "--budget-tokens must be at least 1, got 0"),
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
    from tests.models.test_resolve import _toy

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


def _bench(tmp_path, rows, store):
    """`thinktime bench` on the scripted backend over a JSONL of (question, answer) rows."""
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in rows))
    return ["bench", "--task", f"jsonl:{data}", "--model", "fake", "--store", str(store)]


def test_bench_and_report_with_the_scripted_backend(tmp_path):
    store = tmp_path / "runs" / "qa.db"
    args = _bench(tmp_path, [("q?", "42"), ("r?", "7")], store)
    result = runner.invoke(
        app, [*args, "-s", "cot", "-s", "self_consistency:n=4"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "50.0%" in result.output and "correct 1, wrong 1" in result.output
    assert store.with_suffix(".html").is_file()
    again = runner.invoke(app, ["report", "--store", str(store)], env={"COLUMNS": "200"})
    assert again.exit_code == 0 and "self_consistency:n=4" in again.output


def test_bench_and_report_errors(tmp_path):
    result = runner.invoke(app, ["report", "--store", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "results file not found" in result.output
    result = runner.invoke(app, ["bench", "--task", "gsm9k", "--model", "fake"])
    assert result.exit_code == 2 and "unknown task 'gsm9k'" in result.output
    bad = runner.invoke(app, ["bench", "--task", "gsm8k", "--model", "fake", "-s", "vote"])
    assert bad.exit_code == 2 and "unknown strategy 'vote'" in bad.output


STRATEGY_NAMES = (
    "direct", "cot", "self_consistency", "best_of_n", "verify_revise", "adaptive_consistency",
    "budget_forcing", "beam_search", "dvts", "route", "plain", "tool_vote", "deepconf",
    "particle_filtering", "cot_decoding", "tournament", "mcts", "st_bon",
)  # fmt: skip


def test_piped_listings_never_cut_a_name():
    """Output that is not a terminal (a pipe, a file, CliRunner) is tab-separated lines."""
    result = runner.invoke(app, ["strategies"], env={"COLUMNS": "40"})
    assert result.exit_code == 0 and "…" not in result.output
    rows = [line.split("\t") for line in result.output.splitlines() if not line.startswith("#")]
    assert rows[0] == ["name", "description", "parameters", "reference"]
    assert {row[0] for row in rows[1:]} == set(STRATEGY_NAMES)
    route = next(row for row in rows if row[0] == "route")
    assert 'table=[[0.75, 0, "easy"], [0.5, 4, "medium"], [0.0, 12, "hard"]]' in route[2]
    sc = next(row for row in rows if row[0] == "self_consistency")
    assert "sampler_params={}" in sc[2]  # a default_factory's value, not PydanticUndefined
    models = runner.invoke(app, ["models"], env={"COLUMNS": "40"})
    names = [line.split("\t")[0] for line in models.output.splitlines()[2:]]
    assert "qwen2.5-coder-0.5b (default)" in names and "smollm2-135m" in names


def test_a_narrow_terminal_folds_rather_than_cuts(monkeypatch):
    from io import StringIO

    from rich.console import Console

    import thinktime.cli.listing

    out = StringIO()
    terminal = Console(file=out, force_terminal=True, width=60, no_color=True)
    monkeypatch.setattr(thinktime.cli.listing, "console", terminal)
    thinktime.cli.listing.strategies()
    drawn = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # bold headers
    assert "…" not in drawn
    # at 60 columns the listing is one `header: value` block per strategy, every name whole
    names = {
        line.removeprefix("name: ") for line in drawn.splitlines() if line.startswith("name: ")
    }
    assert set(STRATEGY_NAMES) <= names


def test_listings_as_json():
    result = runner.invoke(app, ["strategies", "--json"])
    assert result.exit_code == 0
    listed = {s["name"]: s for s in json.loads(result.stdout)}
    assert set(listed) == set(STRATEGY_NAMES)
    assert listed["self_consistency"]["parameters"]["n"]["default"] == 5
    assert listed["self_consistency"]["samples"] == 5 and listed["beam_search"]["samples"] == 8
    assert listed["route"]["parameters"]["table"]["default"][2] == [0.0, 12, "hard"]
    models = runner.invoke(app, ["models", "--json"])
    assert models.exit_code == 0
    by_name = {m["name"]: m for m in json.loads(models.stdout)}
    assert {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m"} <= set(by_name)
    assert by_name["qwen2.5-coder-0.5b"]["default"] is True


def test_report_and_plan_as_json(tmp_path):
    store = tmp_path / "qa.db"
    bench = _bench(tmp_path, [("q?", "42"), ("r?", "7")], store)
    assert runner.invoke(app, [*bench, "-s", "cot", "-s", "best_of_n:n=2"]).exit_code == 0
    result = runner.invoke(app, ["report", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {r["config"] for r in report["results"]} == {"cot", "best_of_n:n=2"}
    assert {"accuracy", "tokens", "tokens_per_second", "wall_seconds", "in_flight"} <= set(
        report["results"][0]
    )
    assert report["report"].endswith("qa.html")
    [pair] = report["paired"]  # best_of_n against cot on the same two questions
    assert (pair["a"], pair["b"], pair["n"]) == ("cot", "best_of_n:n=2", 2)
    assert pair["ci"][0] <= pair["difference"] <= pair["ci"][1] and 0 <= pair["p_value"] <= 1
    plan = runner.invoke(app, ["plan", "estimate", "docs/plan/agents-7b-sc8.yaml", "--json"])
    assert plan.exit_code == 0, plan.output
    rows = json.loads(plan.stdout)["rows"]
    assert rows and all({"hardware", "devices", "usd_per_day"} <= set(r) for r in rows)


def test_the_bench_table_reports_throughput_and_cpu_overhead(tmp_path, monkeypatch):
    import thinktime.bench.overhead

    class Meter:  # a sweep that spent 4 CPU-seconds, 3 of them in the engine's threads
        total, engine, orchestration_share = 4.0, 3.0, 0.25

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return None

    monkeypatch.setattr(thinktime.bench.overhead, "CpuMeter", Meter)
    store = tmp_path / "qa.db"
    bench = _bench(tmp_path, [("q?", "42")], store)
    result = runner.invoke(app, [*bench, "-s", "cot", "-s", "self_consistency:n=2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = lines[1].split("\t")
    assert header[6:10] == ["tok/s (engine)", "wall s/q", "in flight", "CPU overhead"]
    assert "s/q" not in header and "overhead" not in header
    rows = [line.split("\t") for line in lines[2:4]]
    assert [row[9] for row in rows] == ["25.0%", "25.0%"]
    assert "orchestration overhead: 25.0% of the run's CPU time" in result.stderr
    again = runner.invoke(
        app, ["report", "--store", str(store)]
    )  # not measured when only read back
    assert "CPU overhead" not in again.stdout and "wall s/q" in again.stdout


def test_replay_prints_every_rule_against_the_reference(tmp_path):
    store = tmp_path / "qa.db"
    bench = _bench(tmp_path, [(f"q{i}?", "42") for i in range(6)], store)
    assert runner.invoke(app, [*bench, "-s", "cot", "-s", "self_consistency:n=8"]).exit_code == 0
    result = runner.invoke(app, ["replay", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    replayed = json.loads(result.stdout)
    assert replayed["config"] == "self_consistency:n=8" and replayed["reference"] == "maj@n"
    rules = {r["rule"]: r for r in replayed["rules"]}
    assert {"maj@1", "maj@n", "adaptive:beta"} <= set(rules) and rules["maj@n"]["n"] == 6
    bad = runner.invoke(app, ["replay", "--store", str(store), "--reference", "maj@99"])
    assert bad.exit_code == 2 and "unknown replay rule 'maj@99'" in bad.output
    one = runner.invoke(app, ["replay", "--store", str(store), "-s", "cot"])
    assert one.exit_code == 2 and "nothing to replay" in one.output


def test_version():
    from thinktime import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"thinktime {__version__}"
