"""Speculative decoding on the embedded engine (`draft` option: a draft model or n-gram lookup).

Scripted: the option values, the vocabulary check on tiny GGUF files written here, and the
engine parameters it fills (xllamacpp's params object, no model loaded). Integration: a draft
of another vocabulary is refused before anything loads; the 0.5B drafting for itself gives the
same greedy text as the 0.5B alone, and llama.cpp's own counters show the drafted tokens.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import pytest

from thinktime.backends.base import make_backend
from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.backends.llamacpp_draft import (
    NGRAM_DRAFTERS,
    check_vocabulary,
    read_vocabulary,
    set_speculative,
    speculative_type,
)
from thinktime.errors import ModelError, ThinktimeError
from thinktime.sampling import SamplingParams
from thinktime.types import Message, Request

QWEN_LIKE = [f"tok{i}" for i in range(300)]


def tiny_model(path: Path, tokens: list[str], kind: str = "gpt2") -> Path:
    """A GGUF header with a tokenizer and nothing else (no tensors)."""
    writer = gguf.GGUFWriter(str(path), arch="qwen2")
    writer.add_tokenizer_model(kind)
    writer.add_token_list(tokens)
    writer.add_token_types([1] * len(tokens))  # a numeric array, skipped by the reader
    writer.add_eos_token_id(2)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    return path


def test_each_option_value_names_its_llama_cpp_drafter():
    assert speculative_type("qwen2.5-coder-0.5b") == "COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE"
    assert speculative_type("/models/draft.gguf") == "COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE"
    import xllamacpp

    for drafter in NGRAM_DRAFTERS:  # every n-gram value exists in this build
        assert hasattr(xllamacpp.common_speculative_type, speculative_type(drafter))


def test_the_vocabulary_is_read_from_the_gguf_header(tmp_path):
    vocab = read_vocabulary(tiny_model(tmp_path / "a.gguf", QWEN_LIKE))
    assert vocab.kind == "gpt2" and len(vocab.tokens) == 300 and vocab.tokens[7] == b"tok7"
    (tmp_path / "x.gguf").write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"cannot read the vocabulary of .*x\.gguf"):
        read_vocabulary(tmp_path / "x.gguf")


def test_a_draft_must_share_the_targets_vocabulary(tmp_path):
    target = tiny_model(tmp_path / "target.gguf", QWEN_LIKE)
    check_vocabulary(tiny_model(tmp_path / "same.gguf", QWEN_LIKE), target)  # no error
    # llama.cpp's slack: a few extra (special) tokens at the end are fine
    check_vocabulary(tiny_model(tmp_path / "more.gguf", [*QWEN_LIKE, "<extra>"]), target)
    other = tiny_model(tmp_path / "other.gguf", [f"w{i}" for i in range(300)])
    with pytest.raises(ModelError) as refused:
        check_vocabulary(other, target, "other")
    message = str(refused.value)
    assert "\n" not in message and "draft other cannot draft for target" in message
    assert "token 0 differs" in message and "ngram-simple" in message
    kinds = tiny_model(tmp_path / "spm.gguf", QWEN_LIKE, kind="llama")
    with pytest.raises(ModelError, match=r"llama, 300 tokens vs gpt2, 300"):
        check_vocabulary(kinds, target)
    short = tiny_model(tmp_path / "short.gguf", QWEN_LIKE[:100])
    with pytest.raises(ModelError, match=r"100 tokens vs gpt2, 300"):
        check_vocabulary(short, target)


def test_the_engine_parameters_for_a_draft_model_and_for_ngram_lookup(tmp_path):
    import xllamacpp

    target = tiny_model(tmp_path / "target.gguf", QWEN_LIKE)
    draft = tiny_model(tmp_path / "draft.gguf", QWEN_LIKE)
    params = xllamacpp.CommonParams()
    set_speculative(params, str(draft), target, draft_max=6, draft_min=2, threads=3)
    spec = params.speculative
    assert spec.types == [xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]
    assert spec.draft.mparams.path == str(draft)
    assert (spec.draft.n_max, spec.draft.n_min, spec.draft.cpuparams.n_threads) == (6, 2, 3)
    params = xllamacpp.CommonParams()
    set_speculative(params, "ngram-mod", target, None, None, threads=3)
    assert params.speculative.types == [
        xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_NGRAM_MOD
    ]
    assert params.speculative.draft.mparams.path == ""
    with pytest.raises(ModelError, match="model file not found"):
        set_speculative(xllamacpp.CommonParams(), str(tmp_path / "nope.gguf"), target, None,
                        None, 1)  # fmt: skip


def test_the_draft_options_are_validated_when_the_backend_is_built():
    with pytest.raises(ThinktimeError, match=r"bad option for backend 'llamacpp': draft_max"):
        make_backend("llamacpp:qwen2.5-coder-0.5b", draft="ngram-simple", draft_max=0)


# --- the real engine ----------------------------------------------------------------------------

PROMPT = Request(messages=(Message("user", "List the numbers from 1 to 12, comma separated."),))
GREEDY = SamplingParams(temperature=0.0, max_tokens=32)
DRAFTED = "spec_decode_num_draft_tokens_total", "spec_decode_num_accepted_tokens_total"


@pytest.mark.integration
def test_a_draft_of_another_vocabulary_is_refused_in_one_line_before_loading():
    with pytest.raises(ModelError) as refused:
        make_backend("qwen2.5-coder-0.5b", draft="smollm2-135m")
    message = str(refused.value)
    assert "\n" not in message
    assert "draft smollm2-135m cannot draft for qwen2.5-coder-0.5b" in message


@pytest.mark.integration
def test_a_draft_model_keeps_the_greedy_text_and_llama_counts_its_tokens(embedded):
    [alone] = embedded.generate([PROMPT], GREEDY)
    drafted = LlamaCppBackend.from_reference(
        "qwen2.5-coder-0.5b", n_parallel=1, context_per_sequence=512,
        draft="qwen2.5-coder-0.5b", draft_max=4,
    )  # fmt: skip
    before = drafted.engine_stats()
    [fast] = drafted.generate([PROMPT], GREEDY)
    after = drafted.engine_stats()
    assert fast.completions[0].text == alone.completions[0].text
    # the bill is the target's tokens; the engine's own counters hold the draft's
    assert fast.completions[0].completion_tokens == alone.completions[0].completion_tokens
    drafts, accepted = (after[k] - before[k] for k in DRAFTED)
    assert drafts > 0 and 0 < accepted <= drafts


@pytest.mark.integration
def test_ngram_lookup_drafts_without_a_model_and_keeps_the_greedy_text(embedded):
    [alone] = embedded.generate([PROMPT], GREEDY)
    lookup = LlamaCppBackend.from_reference(
        "qwen2.5-coder-0.5b", n_parallel=1, context_per_sequence=512, draft="ngram-simple"
    )
    [fast] = lookup.generate([PROMPT], GREEDY)
    assert fast.completions[0].text == alone.completions[0].text
    assert all(k in lookup.engine_stats() for k in DRAFTED)
