import pytest

from thinktime.answers.extract import answer_span, extract_answer, normalize, reasoning_tokens
from thinktime.types import Completion


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so the answer is \\boxed{26}.", "26"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("first \\boxed{3} then corrected \\boxed{4}", "4"),
        ("work...\n#### 1,234", "1234"),
        ("Answer: $5,000.", "5000"),
        ("The final answer is 18 dollars", "18"),
        ("She pays $18.00 in total.", "18"),
        ("It drops to -3 degrees", "-3"),
        ("3 then 7 then 12.50", "12.5"),
        ("\\boxed{\\text{Paris}}", "Paris"),
        ("no number at all", None),
        ("", None),
        ("\\boxed{}  and 5", "5"),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_boxed_beats_later_number():
    assert extract_answer("\\boxed{26} (that is 2 dozen and 2)") == "26"


def test_normalize_numbers():
    assert normalize("$1,000.50") == "1000.5"
    assert normalize("-0.0") == "0"
    assert normalize(" 42. ") == "42"
    assert normalize("50%") == "50"


def test_reasoning_tokens_exact_with_token_texts():
    tokens = ["We", " add", " 2", " and", " 3", ": ", "\\boxed{5}"]
    text = "".join(tokens)
    completion = Completion(text, "stop", len(tokens), tokens=tuple(tokens))
    assert answer_span(text) is not None
    assert reasoning_tokens(completion) == 6


def test_reasoning_tokens_without_answer_is_everything():
    assert reasoning_tokens(Completion("I am not sure", "length", 9)) == 9


def test_reasoning_tokens_proportional_without_logprobs():
    text = "x" * 90 + "\\boxed{1}"  # answer starts at 90 of 99 chars
    assert reasoning_tokens(Completion(text, "stop", 99)) == 90
