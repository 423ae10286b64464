"""Speculative decoding on the embedded engine: a small model (or n-gram lookup) drafts, the
target verifies.

Each decode step, the drafter proposes up to `draft_max` tokens; the target model scores them
all in one batch and keeps the longest prefix it agrees with, plus one token of its own. With
greedy sampling the output is exactly the target's; what changes is how many target passes it
takes. The drafter is either
1. a draft model with the target's tokenizer (`qwen2.5-coder-0.5b` drafting for
   `qwen2.5-coder-1.5b`), resolved like any model reference; or
2. n-gram lookup (`ngram-simple`, `ngram-map-k`, `ngram-map-k4v`, `ngram-mod`: llama.cpp's
   `--spec-type`): tokens that followed the same n-gram earlier in the prompt or the text so
   far, with no second model at all (pays off where text repeats: code, long thinking).

A draft model of another vocabulary would make llama.cpp drop speculation quietly (it logs a
line and decodes alone), so `check_vocabulary` refuses it first, reading the two tokenizers from
the GGUF headers. The bill stays the target's tokens; llama.cpp counts the drafted and accepted
tokens itself (`engine_stats`: `spec_decode_num_draft_tokens_total`,
`spec_decode_num_accepted_tokens_total`; and each response's `timings.draft_n`,
`timings.draft_n_accepted`).

    >>> speculative_type("ngram-mod")
    'COMMON_SPECULATIVE_TYPE_NGRAM_MOD'
    >>> speculative_type("qwen2.5-coder-0.5b")  # a model reference: the draft-model drafter
    'COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE'
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktime.errors import ModelError
from thinktime.models.resolve import resolve_model

NGRAM_DRAFTERS = ("ngram-simple", "ngram-map-k", "ngram-map-k4v", "ngram-mod")
"""The `draft` values that draft by n-gram lookup instead of a model."""

# llama.cpp's own rule for a draft model it accepts (common/speculative.cpp): the same kind of
# tokenizer, vocabularies at most this many tokens apart, the same text for every shared token
VOCAB_SIZE_SLACK = 128


def speculative_type(draft: str) -> str:
    """The name of llama.cpp's `common_speculative_type` for a `draft` option value."""
    if draft in NGRAM_DRAFTERS:
        return "COMMON_SPECULATIVE_TYPE_" + draft.upper().replace("-", "_")
    return "COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE"


def set_speculative(
    params: Any,
    draft: str,
    target: Path,
    draft_max: int | None,
    draft_min: int | None,
    threads: int,
) -> None:
    """Fill xllamacpp's `params.speculative` for `draft` (see module docs); a draft model is
    resolved and checked against the `target` model's vocabulary first."""
    import xllamacpp

    spec = params.speculative
    spec.types = [getattr(xllamacpp.common_speculative_type, speculative_type(draft))]
    if draft in NGRAM_DRAFTERS:
        return
    path = resolve_model(draft)
    check_vocabulary(path, target, draft)
    spec.draft.mparams.path = str(path)
    spec.draft.cpuparams.n_threads = threads
    spec.draft.cpuparams_batch.n_threads = threads
    if draft_max is not None:
        spec.draft.n_max = draft_max
    if draft_min is not None:
        spec.draft.n_min = draft_min


@dataclass(frozen=True)
class Vocabulary:
    """A GGUF model's tokenizer: its kind (`tokenizer.ggml.model`) and every token's text."""

    kind: str
    tokens: tuple[bytes, ...]


def check_vocabulary(draft: Path, target: Path, name: str = "") -> None:
    """Raise a one-line `ModelError` unless `draft` can draft for `target` (llama.cpp's rule:
    the same tokenizer kind, sizes within `VOCAB_SIZE_SLACK`, the same text per shared id)."""
    mine, theirs = read_vocabulary(draft), read_vocabulary(target)
    shared = min(len(mine.tokens), len(theirs.tokens))
    differs = next((i for i in range(shared) if mine.tokens[i] != theirs.tokens[i]), None)
    if (
        mine.kind == theirs.kind
        and abs(len(mine.tokens) - len(theirs.tokens)) <= VOCAB_SIZE_SLACK
        and differs is None
    ):
        return
    raise ModelError(
        f"draft {name or draft} cannot draft for {target.stem}: its vocabulary differs "
        f"({mine.kind}, {len(mine.tokens)} tokens vs {theirs.kind}, {len(theirs.tokens)}"
        + (f"; token {differs} differs" if differs is not None else "")
        + "); pick a draft with the target's tokenizer (e.g. qwen2.5-coder-0.5b for "
        "qwen2.5-coder-1.5b) or an n-gram drafter (" + ", ".join(NGRAM_DRAFTERS) + ")"
    )


# GGUF metadata value types (gguf spec): fixed-size scalars by struct format, then strings and
# arrays, which are walked item by item
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
            12: "d"}  # fmt: skip
_STRING, _ARRAY = 8, 9


def read_vocabulary(path: Path) -> Vocabulary:
    """The tokenizer in a GGUF file's header, read without loading the model (gguf-py's reader
    takes seconds on a 150k-token vocabulary; this walks the header once)."""
    try:
        with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as m:
            if m[:4] != b"GGUF":
                raise ValueError("no GGUF magic")
            (n_kv,) = struct.unpack_from("<Q", m, 16)
            found: dict[str, Any] = {}
            at = 24
            for _ in range(n_kv):
                key, at = _string(m, at)
                (kind,) = struct.unpack_from("<I", m, at)
                value, at = _value(m, at + 4, kind)
                if key in (b"tokenizer.ggml.model", b"tokenizer.ggml.tokens"):
                    found[key.decode()] = value
    except (OSError, ValueError, struct.error) as exc:
        raise ModelError(
            f"cannot read the vocabulary of {path}: {exc}; is it a GGUF model?"
        ) from None
    if "tokenizer.ggml.tokens" not in found:
        raise ModelError(f"{path} has no tokenizer (tokenizer.ggml.tokens); is it a model?")
    kind = found.get("tokenizer.ggml.model", b"")
    return Vocabulary(kind.decode(errors="replace"), tuple(found["tokenizer.ggml.tokens"]))


def _string(m: mmap.mmap, at: int) -> tuple[bytes, int]:
    (length,) = struct.unpack_from("<Q", m, at)
    return m[at + 8 : at + 8 + length], at + 8 + length


def _value(m: mmap.mmap, at: int, kind: int) -> tuple[Any, int]:
    """One metadata value at `at` and where the next begins."""
    if kind in _SCALARS:
        form = "<" + _SCALARS[kind]
        return struct.unpack_from(form, m, at)[0], at + struct.calcsize(form)
    if kind == _STRING:
        return _string(m, at)
    if kind != _ARRAY:
        raise ValueError(f"unknown metadata type {kind}")
    item, count = struct.unpack_from("<IQ", m, at)
    at += 12
    if item in _SCALARS:  # numbers: skip them all at once
        return None, at + count * struct.calcsize("<" + _SCALARS[item])
    items = []
    for _ in range(count):
        value, at = _value(m, at, item)
        items.append(value)
    return items, at
