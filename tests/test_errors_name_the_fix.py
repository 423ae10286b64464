"""Errors that name the fix (issue 24, item 4): a missing server variable, an unknown model,
a task with no data and no network, a misspelt reasoning-gym family, and an answer cut at the
length limit — each one line that says what was wrong and what to do, at once."""

from __future__ import annotations

import io
import json
import sys
import time
import types

import pytest
from rich.console import Console
from typer.testing import CliRunner

from thinktime import solve
from thinktime.backends.base import BACKENDS, BackendSpec, make_backend
from thinktime.backends.fake import FakeBackend
from thinktime.backends.options import NoOptions
from thinktime.cli import app
from thinktime.errors import ThinktimeError
from thinktime.render import result_json, show_result, truncated
from thinktime.tasks import load_task

runner = CliRunner()


def _one_line(message: str) -> str:
    assert "\n" not in message.strip(), message
    return message


# 1) openai:MODEL without a server


@pytest.fixture
def no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_openai_without_a_base_url_refuses_at_once_naming_the_variable(no_openai_env):
    started = time.perf_counter()
    with pytest.raises(ThinktimeError) as error:
        make_backend("openai:gpt-4o-mini")
    assert time.perf_counter() - started < 2  # no retries against nothing
    message = _one_line(str(error.value))
    assert "OPENAI_BASE_URL" in message and "openai:gpt-4o-mini" in message
    assert "OPENAI_API_KEY" in message  # the other way: OpenAI's own API with a key


def test_openai_s_own_api_without_a_key_names_the_key(no_openai_env, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    with pytest.raises(ThinktimeError, match=r"needs a key: set OPENAI_API_KEY") as error:
        make_backend("openai:gpt-4o-mini")
    _one_line(str(error.value))


def test_openai_with_a_key_and_no_url_is_openai_s_api(no_openai_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    backend = make_backend("openai:gpt-4o-mini")
    assert str(backend._client.base_url).startswith("https://api.openai.com/v1")
    assert backend._client.api_key == "sk-test"


def test_a_server_of_one_s_own_needs_no_key(no_openai_env, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    backend = make_backend("openai:qwen")
    assert backend._client.api_key == "not-needed"
    backend = make_backend("openai:qwen", base_url="http://10.0.0.1:8000/v1", api_key="k")
    assert str(backend._client.base_url).startswith("http://10.0.0.1:8000/v1")


def test_cli_solve_with_openai_and_no_server_says_which_variable(no_openai_env):
    result = runner.invoke(app, ["solve", "2+2?", "-m", "openai:gpt-4o-mini"])
    assert result.exit_code != 0
    assert "OPENAI_BASE_URL" in result.output
    assert "Connection error" not in result.output


# 2) an unknown model


def test_an_unknown_model_suggests_the_server_spelling_and_the_other_ways():
    with pytest.raises(ThinktimeError) as error:
        make_backend("gpt-4o")
    message = _one_line(str(error.value))
    assert message.startswith("unknown model 'gpt-4o'")
    for hint in ("qwen2.5-coder-0.5b", "openai:gpt-4o", "OPENAI_BASE_URL", "fake", ".gguf", "hf:"):
        assert hint in message, hint


@pytest.mark.parametrize(
    ("spec", "closest"),
    [
        ("qwen2.5-coder-0.5", "did you mean qwen2.5-coder-0.5b"),
        ("fak", "did you mean fake"),
        ("opnai:gpt-4o", "did you mean openai:gpt-4o"),
    ],
)
def test_a_misspelt_model_names_the_closest_match(spec, closest):
    with pytest.raises(ThinktimeError, match=closest):
        make_backend(spec)


def test_cli_solve_with_an_unknown_model_lists_the_ways_to_name_one():
    result = runner.invoke(app, ["solve", "2+2?", "-m", "gpt-4o"])
    assert result.exit_code != 0
    assert "openai:gpt-4o" in result.output and "fake" in result.output


# 3) a task with no local data and no network


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No local data, no offline mode, a hub endpoint that refuses connections, and a stand-in
    `datasets` that records being asked (it must not be: the probe answers first)."""
    for name in ("THINKTIME_DATA", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                 "TRANSFORMERS_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    asked: list[str] = []

    def load_dataset(hub_id, *args, **kwargs):
        asked.append(hub_id)
        raise ConnectionError("would retry for half a minute")

    fake = types.SimpleNamespace(load_dataset=load_dataset, config=types.SimpleNamespace())
    monkeypatch.setitem(sys.modules, "datasets", fake)
    return asked


def test_an_offline_task_without_data_is_one_line_at_once(no_hub):
    started = time.perf_counter()
    with pytest.raises(ThinktimeError) as error:
        load_task("gsm8k")
    assert time.perf_counter() - started < 5
    message = _one_line(str(error.value))
    assert "could not load openai/gsm8k" in message
    assert "THINKTIME_DATA not set" in message  # what was missing
    assert "--data-dir DIR holding gsm8k/test.jsonl" in message and "network access" in message
    assert no_hub == []  # the hub was not asked (no retries)


def test_a_data_dir_without_the_file_is_named(no_hub, tmp_path):
    with pytest.raises(ThinktimeError, match=r"no .*math500/test\.jsonl\)") as error:
        load_task("math500", data_dir=tmp_path)
    _one_line(str(error.value))


def test_local_data_is_read_before_the_hub_is_asked(no_hub, tmp_path):
    (tmp_path / "gsm8k").mkdir()
    record = {"question": "2+2?", "answer": "so #### 4"}
    (tmp_path / "gsm8k" / "test.jsonl").write_text(json.dumps(record) + "\n")
    task = load_task("gsm8k", data_dir=tmp_path)
    assert [p.gold for p in task.problems] == ["4"] and no_hub == []


def test_offline_mode_reads_the_cache_once_and_says_so(no_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sys.modules["datasets"].config.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]
    with pytest.raises(ThinktimeError, match="not in the Hugging Face cache") as error:
        load_task("gsm8k")
    assert no_hub == ["openai/gsm8k"]  # one try, from the cache
    _one_line(str(error.value))


def test_cli_bench_without_data_or_network_is_one_line(no_hub, tmp_path):
    store = str(tmp_path / "g.db")
    result = runner.invoke(app, ["bench", "--task", "gsm8k", "--model", "fake", "--store", store])
    assert result.exit_code != 0
    assert "--data-dir DIR holding gsm8k/test.jsonl" in result.output
    assert "Retrying" not in result.output and no_hub == []


# 4) a misspelt reasoning-gym family


def test_a_misspelt_reasoning_gym_family_names_the_closest():
    pytest.importorskip("reasoning_gym")
    with pytest.raises(ThinktimeError) as error:
        load_task("reasoning_gym:basic_arithmetc", size=1)
    message = _one_line(str(error.value))
    assert "could not build 'basic_arithmetc'" in message
    assert "did you mean basic_arithmetic" in message
    assert "reasoning_gym.factory.DATASETS" in message  # how to see them all


# 5) an answer cut at the length limit

LONG = "The total is 56 and then we add the rest of the reasoning here"


def _shown(result) -> str:
    out = io.StringIO()
    show_result(Console(file=out, width=120), result)
    return out.getvalue()


def test_a_truncated_answer_says_so_and_how_to_fix_it():
    result = solve("q?", backend=FakeBackend([LONG]), strategy="cot", max_tokens=4)
    assert result.answer == "56" and result.samples[0].finish_reason == "length"
    shown = _shown(result)
    assert "answer: 56 (truncated at 4 tokens; raise --max-tokens)" in shown
    assert "✓" not in shown and "56 (chosen)" in shown
    data = result_json(result)
    assert data["truncated"] is True and data["samples_truncated"] == 1
    assert data["samples"][0]["finish_reason"] == "length"


def test_a_whole_answer_carries_no_truncation_note():
    result = solve("q?", backend=FakeBackend(["so \\boxed{4}"]), strategy="cot")
    shown = _shown(result)
    assert "answer: 4\n" in shown and "truncated" not in shown and "✓" not in shown
    assert result_json(result)["truncated"] is False and not truncated(result)


def test_cut_samples_beside_a_whole_chosen_one_are_counted():
    script = ["so \\boxed{4}", LONG, "so \\boxed{4}"]
    result = solve("q?", backend=FakeBackend(script), strategy="self_consistency", n=3,
                   max_tokens=6)  # fmt: skip
    assert result.answer == "4" and not truncated(result)
    assert "answer: 4 (1 of 3 samples truncated; raise --max-tokens)" in _shown(result)
    assert result_json(result)["samples_truncated"] == 1


def test_cli_solve_flags_a_truncated_answer():
    BACKENDS["scripted"] = BackendSpec("scripted", lambda model, options: FakeBackend([LONG]),
                                       NoOptions)  # fmt: skip
    try:
        result = runner.invoke(app, ["solve", "q?", "-m", "scripted:long", "--max-tokens", "4"])
        assert result.exit_code == 0, result.output
        assert "answer: 56 (truncated at 4 tokens; raise --max-tokens)" in result.output
        assert "✓" not in result.output
        result = runner.invoke(
            app, ["solve", "q?", "-m", "scripted:long", "--max-tokens", "4", "--json"]
        )
        assert json.loads(result.stdout)["truncated"] is True
    finally:
        del BACKENDS["scripted"]
