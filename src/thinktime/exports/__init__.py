"""A bench store's runs, written in the formats other evaluation tools read.

Each format is one module, registered by name (`base.EXPORTS`); every one takes the same call,
`write(store, out, *, model=None, config=None) -> list[Path]`:

- `lm-eval` — lm-evaluation-harness's `results_<config>.json` + `samples_<task>_<config>.jsonl`
  per run, under `out/<model>/` (`lm_eval.py`; the viewer's `--export`);
- `every-eval-ever` — EvalEval's Every Eval Ever record (`eval.schema.json`) and its
  instance-level JSONL with each question's tokens and latency, under
  `out/data/<task>/<developer>/<model>/` (`every_eval_ever.py`);
- `hf-eval-results` — Hugging Face's `.eval_results/*.yaml`, one file per run (each variant:
  `maj@16`, a strategy), under `out/<model>/.eval_results/` (`hf_eval_results.py`);
- `inspect` — Inspect AI's log files, which `inspect view` opens (`inspect_log.py`, needs the
  `inspect` extra).

    $ thinktime export --store runs/gsm8k.db --format every-eval-ever --out out/
"""

from __future__ import annotations

from pathlib import Path

from thinktime.bench.store import Store
from thinktime.exports.base import EXPORTS, Exporter, register_export

__all__ = ["EXPORTS", "Exporter", "export", "register_export"]


def export(
    store: Store, name: str, out: Path, *, model: str | None = None, config: str | None = None
) -> list[Path]:
    """Write `store`'s runs (of `model` and `config` where given) in format `name` under `out`;
    returns the files written. An unknown format is a one-line error listing the known ones."""
    return EXPORTS.get_or_fail(name)(store, out, model=model, config=config)


@register_export("inspect")
def _inspect(
    store: Store, out: Path, *, model: str | None = None, config: str | None = None
) -> list[Path]:
    """Inspect AI's logs (imported on call: Inspect is the optional `inspect` extra)."""
    from thinktime.exports.inspect_log import write_inspect_log

    return write_inspect_log(store, out, model=model, config=config)
