import hashlib
from pathlib import Path

import pytest

from thinktime.errors import ModelError
from thinktime.models import known, resolve
from thinktime.models.known import KnownModel


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("THINKTIME_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def _toy(tmp_path: Path, monkeypatch, payload: bytes, sha: str | None = None) -> KnownModel:
    """A known model made of two installed 'packages' in tmp_path."""
    for i, chunk in enumerate((payload[:5], payload[5:]), start=1):
        pkg = tmp_path / "site" / f"toy_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = KnownModel(
        name="toy", description="toy", sha256=sha or hashlib.sha256(payload).hexdigest(),
        size_bytes=len(payload), parts=known._splits("toy_part", 2), install_hint="pip install toy",
        hf_repo="me/toy", hf_file="toy.gguf",
    )  # fmt: skip
    monkeypatch.setitem(known.KNOWN_MODELS, "toy", model)
    return model


def test_assembles_once_and_verifies(tmp_path, monkeypatch, cache):
    _toy(tmp_path, monkeypatch, b"GGUF-0123456789")
    path = resolve.resolve_model("toy")
    assert path == cache / "toy.gguf"
    assert path.read_bytes() == b"GGUF-0123456789"
    mtime = path.stat().st_mtime_ns
    assert resolve.resolve_model("toy").stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_hash_mismatch_names_the_file(tmp_path, monkeypatch, cache):
    _toy(tmp_path, monkeypatch, b"GGUF-0123456789", sha="0" * 64)
    with pytest.raises(ModelError, match=r"sha256 mismatch for .*toy\.gguf.*reinstall"):
        resolve.resolve_model("toy")
    assert not (cache / "toy.gguf").exists()  # nothing half-built is left behind


def test_missing_packages_say_how_to_install(monkeypatch, cache):
    model = KnownModel(
        "ghost",
        "",
        "0" * 64,
        1,
        (("no_such_pkg_xyz", "a.bin"),),
        "pip install ghost",
        "o/r",
        "f.gguf",
    )
    monkeypatch.setitem(known.KNOWN_MODELS, "ghost", model)
    with pytest.raises(ModelError, match="not installed; install it with: pip install ghost"):
        resolve.resolve_model("ghost")


def test_local_paths(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        resolve.resolve_model(str(tmp_path / "missing.gguf"))
    real = tmp_path / "m.gguf"
    real.write_bytes(b"GGUF")
    assert resolve.resolve_model(str(real)) == real


def test_unknown_reference():
    with pytest.raises(ModelError, match=r"unknown model 'gpt-99'.*known model"):
        resolve.resolve_model("gpt-99")


def test_hf_offline_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match=r"could not download x\.gguf from me/repo.*--model"):
        resolve.resolve_model("hf:me/repo/x.gguf")
    with pytest.raises(ModelError, match="bad Hugging Face reference"):
        resolve.resolve_model("hf:repo-only.gguf")


def test_embedded_default_card():
    from thinktime.models.card import read_card

    card = read_card(resolve.resolve_model("qwen2.5-coder-0.5b"))
    assert (card.architecture, card.n_layers, card.d_model, card.d_attn) == ("qwen2", 24, 896, 896)
    assert card.n_matmul_params < card.n_params  # the embedding lookup costs no FLOPs
    assert 400e6 < card.n_matmul_params < 700e6


def test_which_models_think_in_tags(tmp_path):
    """A known model says whether it thinks (the distilled student does, its base does not);
    any other GGUF does when its chat template writes the open tag."""
    import gguf

    assert resolve.thinks("qwen2.5-coder-0.5b-think", tmp_path / "unused.gguf", "<think>")
    assert not resolve.thinks("qwen2.5-coder-0.5b", tmp_path / "unused.gguf", "<think>")
    for name, template in (("r1", "{{ '<think>\\n' }}"), ("plain", "{{ messages }}")):
        writer = gguf.GGUFWriter(str(tmp_path / f"{name}.gguf"), arch="llama")
        writer.add_chat_template(template)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.close()
    assert resolve.thinks(str(tmp_path / "r1.gguf"), tmp_path / "r1.gguf", "<think>")
    assert not resolve.thinks(str(tmp_path / "plain.gguf"), tmp_path / "plain.gguf", "<think>")
