"""lm-evaluation-harness, run unchanged, over thinktime (issue 28): its CLI with the `thinktime`
model on a 5-question generate task, and its `local-chat-completions` model against a live
`thinktime serve`. Both on the scripted model `fake`, which answers 42 to everything, so the
task's accuracy is known: 3 of its 5 answers are 42.

The task is a YAML file written here (`--include_path`), over a JSONL file read by the
`datasets` json builder, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

QUESTIONS = [("What is 6 times 7?", "42"), ("What is 40 plus 2?", "42"), ("What is 3 plus 4?", "7"),
             ("What is 84 divided by 2?", "42"), ("What is 1 plus 2?", "3")]  # fmt: skip
OFFLINE = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def write_task(folder: Path) -> Path:
    """`toy_arith`: the five questions as an lm-eval generate_until task scored by exact match."""
    data = folder / "toy.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in QUESTIONS))
    (folder / "toy_arith.yaml").write_text(
        "task: toy_arith\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        'doc_to_text: "{{question}}"\n'
        'doc_to_target: "{{answer}}"\n'
        'generation_kwargs:\n  until: ["\\n\\n"]\n  max_gen_toks: 64\n'
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
    )
    return folder


def read_output(out: Path) -> tuple[dict, list[dict]]:
    """(the results JSON, the samples lines) lm-eval wrote under `out/<model>/`."""
    [results] = out.glob("*/results_*.json")
    [samples] = out.glob("*/samples_toy_arith_*.jsonl")
    return json.loads(results.read_text()), [
        json.loads(x) for x in samples.read_text().splitlines()
    ]


def lm_eval(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=cwd, env=OFFLINE, capture_output=True, text=True, timeout=300
    )


def test_lm_eval_run_with_the_thinktime_model(tmp_path):
    tasks = write_task(tmp_path)
    run = lm_eval(
        sys.executable, "-m", "thinktime.lm_eval_model", "run", "--model", "thinktime",
        "--model_args", "model=fake,strategy=self_consistency,n=4", "--tasks", "toy_arith",
        "--include_path", str(tasks), "--output_path", str(tmp_path / "out"), "--log_samples",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "|toy_arith|" in run.stdout and "exact_match" in run.stdout
    results, samples = read_output(tmp_path / "out")
    assert results["results"]["toy_arith"]["exact_match,none"] == pytest.approx(0.6)
    assert "exact_match_stderr,none" in results["results"]["toy_arith"]
    thinktime = results["config"]["thinktime"]
    assert thinktime["strategy"] == "self_consistency" and thinktime["params"]["n"] == 4
    assert thinktime["answers"] == 5 and thinktime["bill"]["samples"] == 20  # 4 per question
    assert thinktime["bill"]["completion_tokens"] > 0
    assert sorted(s["doc_id"] for s in samples) == list(range(5))
    assert all(s["resps"] == [["42"]] for s in samples)
    assert sum(s["exact_match"] for s in samples) == 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served_fake():
    """`thinktime serve -m fake` on loopback, its own process: its base URL."""
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "thinktime.cli", "serve", "-m", "fake", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_local_chat_completions_against_thinktime_serve(tmp_path, served_fake):
    """The recipe of docs/lm_eval.md: lm-eval's own OpenAI chat client, the strategy in the
    model name, its parameters in `--gen_kwargs` (sent in the request body as `thinktime`)."""
    tasks = write_task(tmp_path)
    run = lm_eval(
        sys.executable, "-m", "lm_eval", "run", "--model", "local-chat-completions",
        "--model_args",
        f"model=self_consistency/fake,base_url={served_fake}/chat/completions,tokenizer_backend=none",
        "--apply_chat_template", "--gen_kwargs", '{"thinktime": {"n": 4}}',
        "--tasks", "toy_arith", "--include_path", str(tasks),
        "--output_path", str(tmp_path / "out"), "--log_samples",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    results, samples = read_output(tmp_path / "out")
    assert results["results"]["toy_arith"]["exact_match,none"] == pytest.approx(0.6)
    assert len(samples) == 5 and all(s["resps"] == [["42"]] for s in samples)


# ---------------------------------------------------------------- the model, in process


def model(**args):  # type: ignore[no-untyped-def]
    from thinktime.lm_eval_model import ThinktimeLM

    return ThinktimeLM(**args)


def ask(context, gen_kwargs=None):  # type: ignore[no-untyped-def]
    from lm_eval.api.instance import Instance

    return Instance("generate_until", {}, (context, gen_kwargs or {}), 0)


def test_the_chat_template_gives_the_history_and_the_task_caps_each_sample():
    from thinktime.backends.fake import FakeBackend

    lm = model(model="fake", strategy="cot")
    lm.backend = FakeBackend(["so \\boxed{5}"])
    chat = lm.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+3?"}]
    )
    assert lm.generate_until([ask(chat, {"max_gen_toks": 77})], disable_tqdm=True) == ["5"]
    [(requests, params)] = lm.backend.calls
    roles = [(m.role, m.content) for m in requests[0].messages]
    assert roles[0][0] == "system" and roles[0][1].startswith("Be brief.")  # the task's, first
    assert roles[-1] == ("user", "2+3?")
    assert params.max_tokens == 77
    assert lm.get_model_info()["thinktime"]["answers"] == 1


def test_max_tokens_in_the_model_args_wins_over_the_task():
    lm = model(model="fake", strategy="cot", max_tokens=9)
    lm.generate_until([ask("2+3?", {"max_gen_toks": 77})], disable_tqdm=True)
    assert lm.backend.calls[0][1].max_tokens == 9


def test_budget_caps_and_lm_evals_own_args_are_taken():
    lm = model(model="fake", strategy="self_consistency", n=4, max_completion_tokens=500,
               batch_size=1, device="cuda:0")  # fmt: skip
    assert lm.budget is not None and lm.budget.max_completion_tokens == 500
    assert lm.params.n == 4


def test_a_misspelt_arg_fails_when_the_model_is_built():
    from thinktime.errors import ThinktimeError

    with pytest.raises(ThinktimeError, match="beams=2, which is neither a parameter"):
        model(model="fake", strategy="self_consistency", beams=2)


def test_a_bad_budget_is_one_sentence():
    from thinktime.errors import ThinktimeError

    with pytest.raises(ThinktimeError, match="bad budget max_dollars: "):
        model(model="fake", max_dollars=-1)


def test_loglikelihood_is_refused_with_what_to_run_instead():
    lm = model(model="fake")
    with pytest.raises(NotImplementedError, match="generate_until"):
        lm.loglikelihood([])
    with pytest.raises(NotImplementedError, match="generate_until"):
        lm.loglikelihood_rolling([])
