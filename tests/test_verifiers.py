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
