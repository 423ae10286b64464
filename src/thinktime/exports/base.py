"""What every export format shares: the registry, the runs of a store it exports, file names.

An export format is a function `write(store, out, *, model=None, config=None) -> list[Path]`
that writes a store's runs under the folder `out` and returns the files it wrote; `model` and
`config` keep only that model's or that config's runs. Formats register like every other
pluggable kind (a plugin adds one with `@register_export("name")`):

    >>> from thinktime.bench.store import Store
    >>> store = Store(":memory:")
    >>> store.add({"task": "toy", "question_id": "toy/10", "model": "m", "config": "cot",
    ...            "strategy": "cot", "params": {}, "gold": "4", "verdict": "correct"}, [])
    >>> runs(store), slug("self_consistency:n=16")
    ([Run(task='toy', model='m', config='cot')], 'self_consistency_n-16')
    >>> runs(store, config="cot:n=2")
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: the store holds no run of config 'cot:n=2'; its configs: cot
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from thinktime.backends.base import split_spec
from thinktime.bench.store import Store
from thinktime.errors import ThinktimeError
from thinktime.models.known import KNOWN_MODELS
from thinktime.registry import Registry
from thinktime.tasks import gsm8k, math500

# the Hugging Face dataset each built-in task reads (tasks with none have no entry)
HUB_DATASETS = {"gsm8k": gsm8k.HUB_ID, "gsm8k_tools": gsm8k.HUB_ID, "math500": math500.HUB_ID}


class Exporter(Protocol):
    """One export format: writes the store's runs under `out`, returns the files written."""

    def __call__(
        self, store: Store, out: Path, *, model: str | None = None, config: str | None = None
    ) -> list[Path]: ...


EXPORTS: Registry[Exporter] = Registry(
    "export format",
    {
        "lm-eval": "thinktime.exports.lm_eval",
        "every-eval-ever": "thinktime.exports.every_eval_ever",
        "hf-eval-results": "thinktime.exports.hf_eval_results",
        "inspect": "thinktime.exports",  # its writer imports Inspect AI only when called
    },
)


def register_export(name: str) -> Callable[[Exporter], Exporter]:
    """Decorator: make `write(store, out, *, model, config)` the export format `name`."""
    return EXPORTS.register(name)


class Run(NamedTuple):
    """One (task, model, config) of a store: the unit every format writes."""

    task: str
    model: str
    config: str


def runs(store: Store, model: str | None = None, config: str | None = None) -> list[Run]:
    """The store's runs, of `model` and `config` where given; a name the store does not hold
    is a one-line error naming the ones it does."""
    every = [
        Run(r["task"], r["model"], r["config"])
        for r in store.query(
            "SELECT DISTINCT task, model, config FROM results ORDER BY task, model, config"
        )
    ]
    for kind, wanted in (("model", model), ("config", config)):
        held = sorted({getattr(run, kind) for run in every})
        if wanted is not None and wanted not in held:
            raise ThinktimeError(
                f"the store holds no run of {kind} {wanted!r}; its {kind}s: "
                f"{', '.join(held) or 'none'}"
            )
    return [r for r in every if model in (None, r.model) and config in (None, r.config)]


def run_rows(store: Store, run: Run) -> list[dict[str, Any]]:
    """The run's results in question order (gsm8k/9 before gsm8k/10)."""
    rows = store.query(
        "SELECT * FROM results WHERE task = ? AND model = ? AND config = ?", tuple(run)
    )
    return sorted(rows, key=lambda r: natural(r["question_id"]))


def uses_tools(store: Store, run: Run) -> bool:
    """Whether the run's answers were an agent's, calling tools (steps in the store; a store
    older than agents has no steps table)."""
    if not store.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'steps'"):
        return False
    found = store.query(
        "SELECT 1 FROM steps JOIN results ON results.id = steps.result_id "
        "WHERE task = ? AND model = ? AND config = ? LIMIT 1",
        tuple(run),
    )
    return bool(found)


class ModelIdentity(NamedTuple):
    """Who a model spec is, as evaluation records name it."""

    id: str  # Hugging Face style `org/name` where known
    developer: str
    open_weights: bool | None  # None: not known
    self_deployed: bool
    engine: str | None  # the inference engine that ran it, where thinktime ran one


def model_identity(model: str) -> ModelIdentity:
    """`qwen2.5-coder-0.5b` → its Hugging Face repo; `openai:NAME` → `openai/NAME`; others by
    their spec (`fake` → `thinktime/fake`, a .gguf file → `local/<file name>`).

    >>> model_identity("qwen2.5-coder-0.5b").id, model_identity("openai:gpt-4o").developer
    ('Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF', 'openai')
    """
    backend, name = split_spec(model)
    if model in KNOWN_MODELS:
        repo = KNOWN_MODELS[model].hf_repo
        return ModelIdentity(repo, repo.split("/")[0], True, True, "llama.cpp")
    if backend == "openai":
        return ModelIdentity(f"openai/{name}", "openai", None, False, None)
    if backend == "fake":
        return ModelIdentity("thinktime/fake", "thinktime", None, True, "thinktime scripted")
    if name.startswith("hf:") and name.count("/") >= 1:
        repo = "/".join(name[3:].split("/")[:2])
        return ModelIdentity(repo, repo.split("/")[0], True, True, "llama.cpp")
    return ModelIdentity(f"local/{Path(name).name}", "local", True, True, "llama.cpp")


def epoch(created: str | None) -> str:
    """A store's `created` (SQLite's UTC `YYYY-MM-DD HH:MM:SS`) as Unix seconds, a string; now
    when unknown."""
    when = datetime.now(UTC)
    if created:
        when = datetime.fromisoformat(created).replace(tzinfo=UTC)
    return str(int(when.timestamp()))


def natural(question_id: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts gsm8k/9 before gsm8k/10."""
    parts = re.split(r"(\d+)", question_id)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def slug(text: str) -> str:
    """A file-safe model or config name: `self_consistency:n=16` → `self_consistency_n-16`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("=", "-")).strip("_")
