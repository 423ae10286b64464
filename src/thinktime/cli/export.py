"""`thinktime export`: a results store's runs in the formats other evaluation tools read.

$ thinktime export --store runs/gsm8k.db --format every-eval-ever --out eee/
$ thinktime export --store runs/gsm8k.db --format hf-eval-results --out hf/ -s self_consistency:n=16
$ thinktime export --store runs/gsm8k.db --format inspect --out logs/   # then: inspect view logs/

Formats (see `thinktime.exports`): lm-eval, every-eval-ever, hf-eval-results, inspect. Each
file written is printed on stdout, a count on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thinktime.cli.common import console, errors, fail, model_option, store_option, strategy_option
from thinktime.errors import ThinktimeError

FORMAT_HELP = "lm-eval, every-eval-ever, hf-eval-results or inspect (`thinktime.exports`)."


def export(
    store: Annotated[Path, store_option()],
    fmt: Annotated[str, typer.Option("--format", help=f"Export format: {FORMAT_HELP}")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files under.")],
    model: Annotated[str | None, model_option("Only this model's runs.")] = None,
    strategy: Annotated[
        str | None, strategy_option("Only this config's runs, as the store names it.")
    ] = None,
) -> None:
    """Write a store's runs for other tools: lm-eval, Every Eval Ever, HF .eval_results, Inspect."""
    from thinktime import exports
    from thinktime.bench.store import Store

    try:
        exports.EXPORTS.get_or_fail(fmt)  # a misspelt format fails before the store is opened
        opened = Store(store, create=False, readonly=True)
        written = exports.export(opened, fmt, out, model=model, config=strategy)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    except ImportError as exc:
        extra = "'thinktime[inspect]'" if fmt == "inspect" else exc.name or "it"
        raise fail(
            f"the {fmt} export needs {exc.name}, not installed; pip install {extra}"
        ) from None
    except OSError as exc:
        raise fail(
            f"cannot write the export to {out} ({exc.strerror}); pass a writable --out"
        ) from None
    for path in written:
        console.print(str(path), highlight=False, soft_wrap=True)
    errors.print(f"wrote {len(written)} files to {out}", highlight=False, soft_wrap=True)
