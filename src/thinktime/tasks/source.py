"""Read a dataset's records from a local JSONL file, `$THINKTIME_DATA`, or the Hugging Face hub.

>>> read_records("/no/such.jsonl", "gsm8k", "test", "openai/gsm8k")
Traceback (most recent call last):
thinktime.errors.ThinktimeError: data file not found: /no/such.jsonl; ...
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from thinktime.errors import ThinktimeError
from thinktime.tasks.base import data_dir


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ThinktimeError(
                f"{path}:{number} is not JSON ({exc.msg}); pass a JSONL file"
            ) from None
    return records


def read_records(
    source: str | None,
    name: str,
    split: str,
    hub_id: str,
    hub_config: str | None = None,
    folder: Path | None = None,
) -> list[dict[str, Any]]:
    """Records from `source` (a .jsonl path or the hub id), else the copy in `folder`
    (default $THINKTIME_DATA), else the hub — tried once: an unreachable hub is a one-line
    error at once, not a minute of retries."""
    fix = (
        f"pass --data-dir DIR holding {name}/{split}.jsonl (or set THINKTIME_DATA=DIR), "
        "or allow network access"
    )
    local = folder or data_dir()
    if source is None:
        candidate = local / name / f"{split}.jsonl" if local else None
        source = str(candidate) if candidate and candidate.is_file() else hub_id
    if source == hub_id:
        looked = (
            f"no {local / name / f'{split}.jsonl'}"
            if local
            else "no --data-dir given and THINKTIME_DATA not set"
        )
        reason = hub_unreachable()
        if reason is not None:
            raise ThinktimeError(
                f"could not load {hub_id}: no local copy ({looked}) and the Hugging Face hub "
                f"is out of reach ({reason}); {fix}"
            )
        try:
            from datasets import load_dataset

            return list(load_dataset(hub_id, hub_config, split=split))
        except Exception as exc:
            where = (
                "it is not in the Hugging Face cache (HF_HUB_OFFLINE is set)"
                if hub_offline()
                else f"the Hugging Face hub failed ({type(exc).__name__})"
            )
            raise ThinktimeError(
                f"could not load {hub_id}: no local copy ({looked}) and {where}; {fix}"
            ) from None
    path = Path(source).expanduser()
    if not path.is_file():
        raise ThinktimeError(f"data file not found: {path}; pass a .jsonl path or {hub_id}")
    return read_jsonl(path)


_TRUE = ("1", "on", "yes", "true")


def hub_offline() -> bool:
    """Whether Hugging Face's offline mode is on (`HF_HUB_OFFLINE`, `HF_DATASETS_OFFLINE`)."""
    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(n, "").strip().lower() in _TRUE for n in names)


def hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the Hugging Face hub cannot be asked now, or None when it may be: offline mode
    where the loaded `datasets` would still go online, or no connection to `HF_ENDPOINT` within
    `timeout` seconds. Behind a proxy the client is left to try (a direct probe proves nothing).
    """
    if hub_offline():
        datasets = sys.modules.get("datasets")
        config = getattr(datasets, "config", None)
        if config is not None and not getattr(config, "HF_HUB_OFFLINE", True):
            return "HF_HUB_OFFLINE was set after the datasets library was loaded"
        return None  # offline mode: `datasets` reads its own cache, at once
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"{host}: {exc.strerror or type(exc).__name__}"
    return None
