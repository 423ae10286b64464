"""Program-aided, gold, task-scorer and PRM verifiers."""

import pytest

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.compute.ledger import Ledger
from thinktime.types import Completion, TokenLogprob
from thinktime.verifiers.gold import GoldVerifier, ScorerVerifier
from thinktime.verifiers.judge import judge_score
from thinktime.verifiers.program import ProgramVerifier, extract_code


def test_extract_code():
    assert extract_code("text\n```python\nprint(1)\n```\nmore") == "print(1)\n"
    assert extract_code("print(2)") == "print(2)"


def test_program_verifier_scores_against_the_programs_output():
    backend = FakeBackend(["```python\nbaskets = 3 * 12\nprint(baskets - 10)\n```"])
    ledger = Ledger(backend)
    scores = ProgramVerifier().score(
        "apples?", ["so \\boxed{26}", "\\boxed{24}", "no answer"], ledger
    )
    assert scores == [1.0, 0.0, 0.0]
    assert ledger.bill().verifier_tokens > 0


def test_program_verifier_is_neutral_when_programs_fail():
    backend = FakeBackend(["```python\nimport socket\n```"])
    assert ProgramVerifier().score("?", ["\\boxed{1}"], Ledger(backend)) == [0.5]


def test_best_of_n_with_program_verifier():
    def script(request, index):
        if request.messages[0].content.startswith("Write a short Python"):
            return "```python\nprint(3 * 12 - 10)\n```"
        return ["\\boxed{24}", "\\boxed{24}", "\\boxed{26}"][index]

    result = solve(
        "apples?", backend=FakeBackend(script), strategy="best_of_n", n=3, verifier="program"
    )
    assert result.answer == "26"


def test_gold_and_task_scorers():
    ledger = Ledger(FakeBackend())
    assert GoldVerifier("1000").score("?", ["\\boxed{1,000}", "\\boxed{100}"], ledger) == [1.0, 0.0]
    partial = ScorerVerifier(lambda answer: 0.5 if answer == "3" else 0.0)
    assert partial.score("?", ["\\boxed{3}"], ledger) == [0.0]  # partial credit is not correct
    assert ScorerVerifier(partial.scorer, exact=False).score("?", ["\\boxed{3}"], ledger) == [0.5]


def test_reasoning_gym_scorer():
    reasoning_gym = pytest.importorskip("reasoning_gym")
    dataset = reasoning_gym.create_dataset("basic_arithmetic", size=1, seed=3)
    entry = dataset[0]
    verifier = ScorerVerifier.reasoning_gym(dataset, entry)
    ledger = Ledger(FakeBackend())
    right = f"\\boxed{{{entry['answer']}}}"
    assert verifier.score("?", [right, "\\boxed{-99999}"], ledger) == [1.0, 0.0]


def test_judge_score_from_logprobs_and_text():
    token = TokenLogprob("yes", -0.2, top=(("yes", -0.2), ("no", -1.8)))
    prob = judge_score(Completion("yes", "stop", 1, (token,)))
    assert prob == pytest.approx(0.8187 / (0.8187 + 0.1653), rel=1e-3)
    assert judge_score(Completion("No, step 2 is wrong", "stop", 5)) == 0.0
    assert judge_score(Completion("maybe", "stop", 1)) == 0.5


def test_prm_on_a_tiny_local_model(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    from thinktime.verifiers.prm import PRMVerifier, aggregate

    words = ["[UNK]", "ки", "+", "-", "Step", "one", "two", "three", "Q", "?", "\n"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit()])
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    config = transformers.Qwen2Config(
        vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.Qwen2ForCausalLM(config)
    with torch.no_grad():  # make "+" win everywhere, so every step should score ≈ 1
        model.lm_head.weight.zero_()
        model.lm_head.weight[words.index("+")] = 5.0 * torch.sign(torch.randn(16))
        model.model.norm.weight.fill_(1.0)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    prm = PRMVerifier(model=str(tmp_path), tokenizer=tokenizer)
    ledger = Ledger(FakeBackend())
    steps = prm.step_scores("Q ?", "Step one\n\nStep two\n\nStep three", ledger)
    assert len(steps) == 3 and all(0.0 <= s <= 1.0 for s in steps)
    [score] = prm.score("Q ?", ["Step one\n\nStep two"], ledger)
    assert score == aggregate(prm.step_scores("Q ?", "Step one\n\nStep two"), "min")
    assert ledger.bill().verifier_tokens > 0 and ledger.bill().flops > 0


def test_prm_missing_model_is_a_clear_error(tmp_path):
    pytest.importorskip("transformers")
    from thinktime.errors import ThinktimeError
    from thinktime.verifiers.prm import PRMVerifier

    with pytest.raises(ThinktimeError, match="could not load PRM"):
        PRMVerifier(model=str(tmp_path / "nothing")).step_scores("q", "a")


@pytest.fixture
def runs(monkeypatch):
    """The program verifier's sandbox runs, each recorded with the unsafe_exec it was given."""
    from thinktime.verifiers import program
    from thinktime.verifiers.sandbox import SandboxResult

    seen: list[bool] = []

    def run_python(code, limits=None, stdin="", *, unsafe_exec=False):  # type: ignore[no-untyped-def]
        seen.append(unsafe_exec)
        return SandboxResult("26\n", "", 0, False)

    monkeypatch.setattr(program, "run_python", run_python)
    return seen


def _script(request, index):  # type: ignore[no-untyped-def]
    return "print(26)" if request.messages[0].content.startswith("Write a short") else "\\boxed{26}"


@pytest.mark.parametrize("unsafe", [False, True])
def test_the_unsafe_exec_choice_travels_as_a_value_from_solve_to_the_sandbox(runs, unsafe):
    """No module keeps the operator's choice (issue 23, item 4): `solve` passes it to the
    verifier it builds, which passes it to each run; a verifier that runs no code is unaffected."""
    from thinktime.verifiers.base import make_verifier

    result = solve("apples?", backend=FakeBackend(_script), strategy="best_of_n", n=2,
                   verifier="program", unsafe_exec=unsafe)  # fmt: skip
    assert result.answer == "26" and runs == [unsafe]
    assert ProgramVerifier().unsafe_exec is False  # refusing is the default
    assert make_verifier("program", unsafe_exec=unsafe).unsafe_exec is unsafe  # type: ignore[attr-defined]
    assert make_verifier("judge", unsafe_exec=True).name == "judge"


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [([], {}, False), (["--unsafe-exec"], {}, True), ([], {"THINKTIME_UNSAFE_EXEC": "1"}, True)],
)
def test_the_cli_reads_the_unsafe_exec_choice_at_the_edge(runs, monkeypatch, flag, env, expected):
    from typer.testing import CliRunner

    from thinktime.backends.base import BACKENDS, BackendSpec
    from thinktime.backends.options import NoOptions
    from thinktime.cli import app

    monkeypatch.delenv("THINKTIME_UNSAFE_EXEC", raising=False)
    scripted = BackendSpec("scripted", lambda model, options: FakeBackend(_script), NoOptions)
    monkeypatch.setitem(BACKENDS, "scripted", scripted)
    args = ["solve", "apples?", "-m", "scripted:x", "-s", "best_of_n:n=1", "--verifier", "program"]
    result = CliRunner().invoke(app, [*args, *flag, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert runs == [expected]


@pytest.mark.parametrize("unsafe", [False, True])
def test_the_server_passes_its_unsafe_exec_choice_to_the_verifier(runs, unsafe):
    from fastapi.testclient import TestClient

    from thinktime.serve.app import ServerConfig, create_app
    from thinktime.serve.policy import ServerPolicy

    config = ServerConfig(model="qwen", policy=ServerPolicy(verifiers=["judge", "program"]),
                          unsafe_exec=unsafe)  # fmt: skip
    client = TestClient(create_app(FakeBackend(_script), config), base_url="http://127.0.0.1")
    body = {
        "model": "qwen",
        "messages": [{"role": "user", "content": "apples?"}],
        "thinktime": {"strategy": "best_of_n", "params": {"n": 2, "verifier": "program"}},
    }
    reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    assert runs == [unsafe]
    refused = {**body, "thinktime": {"strategy": "cot", "params": {"unsafe_exec": True}}}
    assert client.post("/v1/chat/completions", json=refused).status_code == 400  # not a client's
