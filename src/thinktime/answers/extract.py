"""Find the final answer in a model's text, and how many tokens came before it.

Looked for in order, the first kind found wins (within a kind, the last occurrence):
1. `\\boxed{...}` (braces balanced, so `\\boxed{\\frac{1}{2}}` works);
2. `#### 42` (GSM8K's gold format);
3. `Answer: ...` / `final answer is ...`;
4. the last number in the text.
Numbers are normalised: thousands separators and `$` dropped, a trailing `.` removed,
`18.00` → `18`.

    >>> extract_answer("So she earns $18.00 a day. \\\\boxed{18}")
    '18'
    >>> extract_answer("The total is 1,234 apples.")
    '1234'
    >>> extract_answer("Answer: $5,000")
    '5000'
    >>> extract_answer("no digits here") is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from thinktime.types import Completion

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER = re.compile(r"(?:final answer|answer)\s*(?:is|:|=)\s*:?\s*([^\n]+)", flags=re.IGNORECASE)
_NUMBER = re.compile(r"-?\$?\s?\d[\d,]*(?:\.\d+)?|-?\$?\s?\.\d+")
_NUMERIC = re.compile(r"^-?\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class Span:
    """Where the final answer sits in a text (`start` is a character offset) and its value."""

    start: int
    value: str


def _boxed(text: str) -> Span | None:
    found = None
    for match in _BOXED.finditer(text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            found = Span(match.start(), text[match.end() : i - 1])
    return found


def _last(pattern: re.Pattern[str], text: str) -> Span | None:
    found = None
    for match in pattern.finditer(text):
        found = Span(match.start(), match.group(1) if match.groups() else match.group(0))
    return found


def normalize(answer: str) -> str:
    """Canonical text of an answer: plain numbers without `$`, commas or trailing zeros."""
    value = answer.strip().strip(".").strip()
    value = re.sub(r"^\\text\{(.*)\}$", r"\1", value)
    value = value.replace("\\$", "$").replace("\\%", "%").replace("\\!", "")
    numeric = value.replace("$", "").replace(",", "").replace(" ", "").rstrip("%")
    if _NUMERIC.match(numeric):
        if "." in numeric:
            numeric = numeric.rstrip("0").rstrip(".")
        return "0" if numeric in ("-0", "") else numeric
    return value


def _first_number(text: str) -> str | None:
    match = _NUMBER.search(text)
    return match.group(0) if match else None


def answer_span(text: str) -> Span | None:
    """The final answer's position and raw value, or None when there is none."""
    for find in (_boxed, lambda t: _last(_HASHES, t), lambda t: _last(_ANSWER, t)):
        span = find(text)
        if span is not None and span.value.strip():
            return span
    return _last(_NUMBER, text)


def extract_answer(text: str) -> str | None:
    """The normalised final answer of `text`, or None (see the module docstring for the rules)."""
    span = answer_span(text)
    if span is None:
        return None
    value = span.value
    # an "Answer: 18 apples" line keeps just its number; a boxed expression stays whole
    if not text.startswith("\\", span.start) and not _NUMERIC.match(normalize(value)):
        value = _first_number(value) or value
    return normalize(value) or None


def reasoning_tokens(completion: Completion, answered: bool = True) -> int:
    """Tokens generated before the final answer begins (all of them when there is none): a
    reasoning model's thinking, then its visible text up to the answer. With `answered` False
    the visible text is a plain reply with no final answer to look for (plain chat): only the
    thinking counts (`thinking_tokens`).

    The thinking is the server's own count where it gave one for this choice
    (`Completion.reasoning_tokens`); the rest is exact when the engine told us each token's
    text, otherwise the character share.

        >>> plain = Completion("so \\\\boxed{4}", "stop", 2, tokens=("so", " \\\\boxed{4}"))
        >>> reasoning_tokens(plain)
        1
        >>> thought = Completion("so it is \\\\boxed{4}", "stop", 40, reasoning="...",
        ...                      reasoning_tokens=30)
        >>> reasoning_tokens(thought)  # the server's 30, then half of the 10 visible tokens
        35
        >>> reasoning_tokens(Completion("Hi! How can I help?", "stop", 6), answered=False)
        0
    """
    if not answered:
        return thinking_tokens(completion)
    span = answer_span(completion.text)
    if span is None:
        return completion.completion_tokens
    thinking = thinking_tokens(completion)
    if completion.tokens:
        # exact: the answer sits that far into the visible text, which starts after the thinking
        counted = _tokens_before(completion.tokens, _visible_start(completion))
        at = _visible_start(completion) + span.start
        before_answer = _tokens_before(completion.tokens, at) - counted
    else:
        # the character share of the visible text (the tokens left after the thinking)
        spoken = completion.completion_tokens - thinking
        before_answer = round(max(spoken, 0) * span.start / max(len(completion.text), 1))
    return thinking + before_answer


def thinking_tokens(completion: Completion) -> int:
    """Tokens of a reasoning model's thinking (`Completion.reasoning`); 0 when it had none.

    The server's own count where it gave one for this choice, else exact when the engine told
    us each token's text, else the thinking's character share of all the text.

        >>> thinking_tokens(Completion("4", "stop", 10, reasoning="abcd", reasoning_tokens=7))
        7
        >>> thinking_tokens(Completion("4321", "stop", 10, reasoning="abcd"))  # half the text
        5
        >>> thinking_tokens(Completion("Hi!", "stop", 2))
        0
    """
    if completion.reasoning_tokens is not None:
        return completion.reasoning_tokens
    if completion.reasoning is None:
        return 0
    if completion.tokens:
        return _tokens_before(completion.tokens, _visible_start(completion))
    thought = len(completion.reasoning)
    total = thought + len(completion.text)
    return round(completion.completion_tokens * thought / max(total, 1))


def _visible_start(completion: Completion) -> int:
    """Where the visible text starts in the joined tokens: it is the end of what was generated,
    so it sits `len(text)` back from the end (0 for a reply with no thinking)."""
    if completion.reasoning is None or not completion.tokens:
        return 0
    generated = sum(len(token) for token in completion.tokens)
    return max(generated - len(completion.text), 0)


def _tokens_before(tokens: tuple[str, ...], at: int) -> int:
    """How many tokens come before character offset `at` of their joined text (a token counts
    if its first visible character does)."""
    offset = count = 0
    for token in tokens:
        if offset + len(token) - len(token.lstrip()) >= at:
            break
        offset += len(token)
        count += 1
    return count
