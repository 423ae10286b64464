"""`thinktime models` and `thinktime strategies`: what is there to choose from.

Each listing is one list of records, shown as a table in a terminal, as tab-separated lines
when piped (names and values never cut), and as JSON with `--json`:

    $ thinktime strategies | grep consistency
    $ thinktime models --json | jq -r '.[] | select(.cached) | .name'
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import to_jsonable_python
from rich.markup import escape
from rich.table import Table

from thinktime.cli.common import AsJson, console, print_json
from thinktime.models.known import DEFAULT_MODEL
from thinktime.render import show_table


def model_records() -> list[dict[str, Any]]:
    """Every known model: installed (its PyPI packages), cached (assembled), size, parameters.
    A base + LoRA adapter model shows its base's parameters; its size adds the adapter file."""
    from thinktime.models.card import read_card
    from thinktime.models.known import KNOWN_MODELS
    from thinktime.models.resolve import cache_dir, find_parts, is_cached

    records = []
    for model in KNOWN_MODELS.values():
        base = KNOWN_MODELS[model.base] if model.base else model
        parts = find_parts(model)
        in_place = parts is not None and len(parts) == 1
        cached = is_cached(model) or in_place
        n_params = None
        if cached:
            path = parts[0] if in_place and parts else cache_dir() / base.filename
            n_params = read_card(path).n_params
        size = model.size_bytes + (base.size_bytes if model.base else 0)
        records.append(
            {
                "name": model.name, "default": model.name == DEFAULT_MODEL,
                "installed": parts is not None, "install_hint": model.install_hint,
                "cached": cached, "size_bytes": size, "parameters": n_params,
                "description": model.description, "base": model.base,
            }
        )  # fmt: skip
    return records


def models(as_json: AsJson = False) -> None:
    """List known models: installed, cached, size and parameter count."""
    from thinktime.models.resolve import cache_dir

    records = model_records()
    if as_json:
        print_json(records)
        return
    table = Table(title=f"known models (cache: {cache_dir()})")
    table.add_column("name", no_wrap=True, overflow="fold")
    for column in ("installed", "cached", "size", "parameters", "description"):
        table.add_column(column)
    for m in records:
        table.add_row(
            m["name"] + (" (default)" if m["default"] else ""),
            "yes" if m["installed"] else escape(f"no — {m['install_hint']}"),
            "yes" if m["cached"] else "no",
            f"{m['size_bytes'] / 2**20:,.0f} MiB",
            "—" if m["parameters"] is None else f"{m['parameters'] / 1e6:,.0f} M",
            m["description"],
        )
    show_table(console, table)


def strategy_records() -> list[dict[str, Any]]:
    """Every registered strategy (plugins too): description, parameters with their defaults and
    descriptions, the samples it holds at once with those defaults, and its reference."""
    from thinktime.strategies import STRATEGIES

    records = []
    for spec in STRATEGIES.values():
        fields = spec.params_type.model_fields
        parameters = {
            name: {
                "default": None if f.is_required() else f.get_default(call_default_factory=True),
                "required": f.is_required(),
                "description": f.description or "",
            }
            for name, f in fields.items()
        }
        required = any(f.is_required() for f in fields.values())
        records.append(
            {
                "name": spec.name, "description": spec.description, "parameters": parameters,
                "samples": None if required else spec.samples(spec.params_type()),
                "default_temperature": spec.default_temperature, "reference": spec.reference,
            }
        )  # fmt: skip
    jsonable: list[dict[str, Any]] = to_jsonable_python(records, fallback=repr)
    return jsonable


def strategies(as_json: AsJson = False) -> None:
    """List strategies with their description, parameters (defaults as JSON, as
    `-s NAME:PARAM=VALUE` and `--param` take them) and reference."""
    records = strategy_records()
    if as_json:
        print_json(records)
        return
    table = Table(title="strategies")
    table.add_column("name", no_wrap=True, overflow="fold")
    table.add_column("description")
    table.add_column("parameters")
    table.add_column("reference")
    for s in records:
        params = ", ".join(
            f"{name}={'(required)' if p['required'] else json.dumps(p['default'])}"
            for name, p in s["parameters"].items()
        )
        table.add_row(s["name"], s["description"], escape(params) or "—", s["reference"])
    show_table(console, table)
