"""Nothing starts at import time, and the price table is parsed once (issue 23, item 4)."""

from __future__ import annotations

import subprocess
import sys


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
    import re
    from pathlib import Path

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
    assert "THINKTIME_DATA" not in os.environ
    src = Path(__file__).parents[1] / "src" / "thinktime"
    writes = [
        p for p in src.rglob("*.py") if re.search(r"os\.environ\[[^\]]+\]\s*=", p.read_text())
    ]
    assert writes == []
