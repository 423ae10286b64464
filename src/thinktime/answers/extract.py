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


def reasoning_tokens(completion: Completion) -> int:
    """Tokens generated before the final answer begins (all of them when there is none): a
    reasoning model's thinking, then its visible text up to the answer.

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
    """
    span = answer_span(completion.text)
    if span is None:
        return completion.completion_tokens
    if completion.tokens:
        # 1) exact: the visible text is the end of what was generated, so its start (and the
        #    answer's) sit that far back from the end of the tokens' text
        generated = sum(len(token) for token in completion.tokens)
        visible = generated - len(completion.text) if completion.reasoning is not None else 0
        counted = _tokens_before(completion.tokens, max(visible, 0))
        before_answer = _tokens_before(completion.tokens, max(visible, 0) + span.start) - counted
    else:
        # 2) the character share, of all the text for the thinking, of the visible text after it
        thought = len(completion.reasoning or "")
        counted = round(
            completion.completion_tokens * thought / max(thought + len(completion.text), 1)
        )
        spoken = completion.completion_tokens - (
            counted if completion.reasoning_tokens is None else completion.reasoning_tokens
        )
        before_answer = round(max(spoken, 0) * span.start / max(len(completion.text), 1))
    thinking = counted if completion.reasoning_tokens is None else completion.reasoning_tokens
    return thinking + before_answer


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
