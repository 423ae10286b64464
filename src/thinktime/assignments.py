"""`NAME=VALUE` items: the one syntax every option list uses (strategy configs, `--param`,
a task's knobs).

A value is read as JSON when it parses, else taken as text; a list of items is cut at the commas
outside JSON brackets, braces and double-quoted strings, so any JSON value fits in one item.

    >>> parse_items('n=2,stop=["a,b"],sampler=cot', "bad")
    {'n': 2, 'stop': ['a,b'], 'sampler': 'cot'}
"""

from __future__ import annotations

import json
from typing import Any

from thinktime.errors import ThinktimeError


def parse_assignment(item: str, error: str) -> tuple[str, Any]:
    """`n=16` → ("n", 16), `sampler=cot` → ("sampler", "cot"); no `=` or no NAME raises
    `ThinktimeError(error)`, the caller's one line saying how to write it."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ThinktimeError(error)
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def split_items(text: str) -> list[str]:
    """`text` cut at its commas outside JSON brackets, braces and double-quoted strings; empty
    items dropped.

    >>> split_items('n=2,stop=["a,b", "c"],sampler_params={"x": 1, "y": "]"},')
    ['n=2', 'stop=["a,b", "c"]', 'sampler_params={"x": 1, "y": "]"}']
    >>> split_items('stop="a,b",n=3')
    ['stop="a,b"', 'n=3']
    """
    items, start, depth, quoted, escaped = [], 0, 0, False, False
    for index, char in enumerate(text):
        if quoted:
            escaped, quoted = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            quoted = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    items.append(text[start:])
    return [item for item in items if item.strip()]


def parse_items(text: str, error: str) -> dict[str, Any]:
    """`NAME=VALUE,NAME=VALUE` → {NAME: value}; a bad item raises `ThinktimeError(error)`."""
    return dict(parse_assignment(item, error) for item in split_items(text))
