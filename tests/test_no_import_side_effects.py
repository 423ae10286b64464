"""Nothing starts at import time, no module keeps a choice the edges pass (the environment is
read and never written, engines are never cached), and the price table is parsed once (issue 23,
item 4)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


def test_importing_thinktime_makes_no_executor_and_starts_no_thread():
    code = (
        "import sys, threading\nfrom concurrent.futures import Executor\n"
        "import thinktime, thinktime.answers.equivalence, thinktime.api, thinktime.cli\n"
        "pools = [f'{n}.{k}' for n, m in list(sys.modules.items()) if n.startswith('thinktime')\n"
        "         for k, v in vars(m).items() if isinstance(v, Executor)]\n"
        "print(pools, sorted(t.name for t in threading.enumerate()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['MainThread']", out.stdout


def test_the_price_table_is_read_once(monkeypatch, tmp_path):
    from thinktime.compute import prices

    reads = []
    real = prices._parse
    monkeypatch.setattr(
        prices, "_parse", lambda text, origin: reads.append(origin) or real(text, origin)
    )
    prices._shipped.cache_clear()
    prices._user_table.cache_clear()
    user = tmp_path / "prices.toml"
    user.write_text("[mine]\nusd_per_million_prompt = 1.0\n")
    for _ in range(3):
        prices.load_prices(user)
    assert len(reads) == 2  # the shipped table and the user's, once each


def test_the_data_folder_is_passed_in_never_written_to_the_environment(tmp_path, monkeypatch):
    import json
    import os

    from typer.testing import CliRunner

    from thinktime.cli import app

    monkeypatch.delenv("THINKTIME_DATA", raising=False)
    (tmp_path / "gsm8k").mkdir()
    record = {"question": "2+2?", "answer": "two and two #### 4"}
    (tmp_path / "gsm8k" / "test.jsonl").write_text(json.dumps(record) + "\n")
    store = tmp_path / "g.db"
    args = ["bench", "--task", "gsm8k", "--data-dir", str(tmp_path), "--model", "fake"]
    result = CliRunner().invoke(app, [*args, "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "THINKTIME_DATA" not in os.environ  # and no module writes it: see below


SRC = Path(__file__).parents[1] / "src" / "thinktime"


def _trees() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield str(path.relative_to(SRC)), ast.parse(path.read_text())


def _run_at_import(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements a module (or a class in it) runs when imported: all but function bodies."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield from _run_at_import(node.body)
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_no_module_reads_the_environment_or_starts_an_executor_at_import():
    """A choice such as THINKTIME_UNSAFE_EXEC is read at the edge and passed down as a value
    (it was a module-level dict in the sandbox, flipped by the CLI); nothing builds a thread
    pool when imported (issue 23, item 4)."""
    found = [
        f"{name}:{node.lineno}: {ast.unparse(node)[:80]}"
        for name, tree in _trees()
        for node in _run_at_import(tree.body)
        if re.search(r"os\.environ|os\.getenv|Executor\(", ast.unparse(node))
    ]
    assert found == []
    from thinktime.verifiers import sandbox

    state = {k: v for k, v in vars(sandbox).items() if not k.startswith("__")}
    kept = [k for k, v in state.items() if isinstance(v, dict | list | set)]
    assert kept == [] and not hasattr(sandbox, "allow_unsafe_exec")


def test_no_module_writes_the_environment():
    writes = [
        f"{name}:{node.lineno}"
        for name, tree in _trees()
        for node in ast.walk(tree)
        if (isinstance(node, ast.Assign | ast.AugAssign) and "os.environ[" in ast.unparse(node))
        or (
            isinstance(node, ast.Call)
            and ast.unparse(node.func)
            in ("os.environ.update", "os.environ.setdefault", "os.environ.pop", "os.putenv")
        )
    ]
    assert writes == []


def test_no_cache_holds_an_engine():
    """Engines are owned by the edges that reuse them (a sweep's one per model, a server's
    one), never by a process-wide cache (the old `lru_cache` of `load_backend`)."""
    cached = [
        (name, node.name, ast.unparse(node.returns) if node.returns else "")
        for name, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any("cache" in ast.unparse(d) for d in node.decorator_list)
    ]
    assert cached, "the walk found no cached function at all"
    holding = [c for c in cached if c[0].startswith("backends/") or "Backend" in c[2]]
    assert holding == []
