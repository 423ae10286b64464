"""A GGUF file's metadata scalars and tensor shapes, read in milliseconds by skipping its arrays.

gguf-py's `GGUFReader` makes a numpy view of every array element, so opening a model with a
50k–150k token vocabulary takes seconds (tens on a busy CPU) just to learn its architecture.
This walks the header (GGUF v2/v3, little-endian) with `struct`: each key's scalar or string
value is kept, an array is skipped (its value is None), and each tensor's shape is listed in
ggml order (`ne`: a matrix of `in` inputs and `out` outputs is `(in, out)`).

    >>> import tempfile, gguf, numpy as np
    >>> path = Path(tempfile.mkdtemp()) / "toy.gguf"
    >>> writer = gguf.GGUFWriter(str(path), arch="llama")
    >>> writer.add_block_count(2); writer.add_token_list(["a", "b"])
    >>> writer.add_tensor("blk.0.attn_q.weight", np.zeros((3, 4), np.float32))
    >>> writer.write_header_to_file(); writer.write_kv_data_to_file()
    >>> writer.write_tensors_to_file(); writer.close()
    >>> header = read_header(path)
    >>> header.fields["general.architecture"], header.fields["llama.block_count"]
    ('llama', 2)
    >>> header.fields["tokenizer.ggml.tokens"] is None, header.shapes["blk.0.attn_q.weight"]
    (True, (4, 3))
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from thinktime.errors import ModelError

# GGUF value types: struct format of each fixed-size one; 8 is a string, 9 an array
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF says about itself, without its arrays or tensor data."""

    fields: dict[str, Any]  # key → scalar or string; None for an array
    shapes: dict[str, tuple[int, ...]]  # tensor name → ggml shape (ne)


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise EOFError
    return struct.unpack(fmt, data)[0]


def _string(fh: BinaryIO) -> str:
    return fh.read(_read(fh, "<Q")).decode("utf-8", errors="replace")


def _skip(fh: BinaryIO, kind: int) -> None:
    """Skip one value of GGUF type `kind`."""
    if kind == _STRING:
        fh.seek(_read(fh, "<Q"), 1)
    elif kind == _ARRAY:
        item, count = _read(fh, "<I"), _read(fh, "<Q")
        if item in _SCALARS:
            fh.seek(count * struct.calcsize(_SCALARS[item]), 1)
        else:
            for _ in range(count):
                _skip(fh, item)
    else:
        fh.seek(struct.calcsize(_SCALARS[kind]), 1)


def read_header(path: Path) -> GGUFHeader:
    """The metadata scalars and tensor shapes of the GGUF at `path` (see module docstring)."""
    try:
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF" or _read(fh, "<I") not in (2, 3):
                raise ValueError("not a little-endian GGUF v2/v3 file")
            n_tensors, n_fields = _read(fh, "<Q"), _read(fh, "<Q")
            fields: dict[str, Any] = {}
            for _ in range(n_fields):
                key, kind = _string(fh), _read(fh, "<I")
                if kind == _STRING:
                    fields[key] = _string(fh)
                elif kind in _SCALARS:
                    fields[key] = _read(fh, _SCALARS[kind])
                else:
                    fields[key] = None
                    _skip(fh, kind)
            shapes = {}
            for _ in range(n_tensors):
                name = _string(fh)
                shapes[name] = tuple(_read(fh, "<Q") for _ in range(_read(fh, "<I")))
                fh.seek(4 + 8, 1)  # type, data offset
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ModelError(f"cannot read GGUF file {path}: {exc or 'truncated'}") from None
    return GGUFHeader(fields, shapes)
