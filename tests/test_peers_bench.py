"""benchmarks/peers.py without a model: budget matching, the table, the counters, the peers' venv.

The benchmark itself runs a real engine and the peers' own code (run it as its docstring says);
here its arithmetic runs on canned numbers, and its failures on bad input.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import peers  # noqa: E402
from peers_match import JUDGE_TOKENS, Row, best, sizes, table, target_tokens  # noqa: E402
from peers_runner import final_answer  # noqa: E402


def row(side: str, method: str, correct: list[float], tokens: int, reported: int | None = None):
    return Row(side, method, "cfg", correct, tokens, 2 * tokens, reported, 3.0 * len(correct))


def test_the_target_is_the_best_peer_methods_engine_tokens_per_question():
    rows = [
        row("optillm", "mcts", [1, 0, 0, 1], 8000),  # 50%
        row("its_hub", "best_of_n", [1, 1, 0, 1], 2400),  # 75%, the best
        row("its_hub", "particle_filtering", [1, 1, 0, 1], 3000),  # 75% at more tokens
    ]
    assert best(rows).method == "best_of_n"
    assert target_tokens(rows) == 600


@pytest.mark.parametrize("target,per_sample", [(600, 150), (1000, 97), (5000, 311), (90, 150)])
def test_thinktime_is_sized_to_the_target_as_its_budget_is_spent(target, per_sample):
    s = sizes(target, per_sample, max_steps=10)
    one = {"self_consistency": per_sample, "best_of_n": per_sample + JUDGE_TOKENS,
           "particle_filtering": per_sample + 10 * JUDGE_TOKENS,
           "mcts": per_sample + 3 * JUDGE_TOKENS}  # fmt: skip
    for method, unit in one.items():
        count = next(iter(s[method].values()))
        assert count >= 1
        if method in ("self_consistency", "best_of_n"):  # one call: each share a solution
            assert count == 1 or count * unit <= target < (count + 1) * unit
        else:  # step by step: enough to reach the target (the budget cuts the last short)
            assert count * unit >= target and (count == 1 or (count - 1) * unit < target)


def test_the_table_pairs_every_method_with_thinktimes_best():
    rows = [
        row("optillm", "bon", [0, 0, 1], 900, reported=300),
        row("its_hub", "particle_filtering", [1, 0, 0], 1200),
        row("thinktime", "cot", [1, 0, 0], 150, reported=150),
        row("thinktime", "self_consistency", [1, 1, 1], 840, reported=840),
    ]
    lines = table(rows).splitlines()
    assert len(lines) == 2 + len(rows)
    bon, pf, cot, sc = lines[2:]
    assert "self_consistency (best)" in sc and sc.endswith("| — | — | — |")
    # thinktime's best (3/3) minus optillm's bon (1/3): +66.7 points, 2 wins, 0 losses
    assert "| +66.7 [" in bon and "| 2/0 |" in bon
    assert "| 33.3% [" in bon and "| 300 | 600 | 100 | 3.0 |" in bon  # per question
    assert "| 400 | 800 | — |" in pf  # its-hub's particle filtering reports no tokens
    assert cot.startswith("| thinktime | cot | cfg | 3 |")


def test_counted_reads_the_engines_counters_around_the_work():
    readings = iter([
        {peers.COMPLETION: 100.0, peers.PROMPT: 40.0},
        {peers.COMPLETION: 350.0, peers.PROMPT: 100.0},
    ])  # fmt: skip
    result, completion, prompt = peers.counted(lambda: next(readings), lambda: "done")
    assert (result, completion, prompt) == ("done", 250, 60)


def test_its_hubs_vote_projection_reads_the_final_answer():
    assert final_answer("12 + 30 = 42 so \\boxed{\\frac{84}{2}} done") == "\\frac{84}{2}"
    assert final_answer("first 3, then 1,250 total") == "1250"
    assert final_answer("no number") == "no number"


def test_a_made_venv_is_reused_without_pip(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    (tmp_path / "thinktime-peers-pins.txt").write_text(
        "\n".join((*peers.PINS, "--no-deps", *peers.NO_DEPS))
    )
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran pip again"))
    assert peers.ensure_venv(tmp_path, "python") == tmp_path / "bin" / "python"


def test_a_venv_that_cannot_be_made_stops_the_script_with_one_line(tmp_path):
    with pytest.raises(peers.PeersError, match="could not make the peers' virtual environment"):
        peers.ensure_venv(tmp_path / "v", "/bin/false")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "peers.py"), "--venv", str(tmp_path / "v"),
         "--python", str(tmp_path / "no-such-python")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = [x for x in done.stderr.splitlines() if not x.startswith("peers venv:")]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: could not make the peers' virtual environment")
    assert "pass --venv" in lines[0]


def test_an_unknown_method_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["peers.py", "--peers", "optillm:beam"])
    with pytest.raises(SystemExit) as exit_:
        peers.parse_args()
    assert exit_.value.code == 2
    assert "unknown method 'optillm:beam'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ("self_consistency:beams=3", "neither a parameter of strategy 'self_consistency'"),
        ("self_consistency:n=4,temperature=0.9", "strategy parameters only (got ['temperature'])"),
    ],
)
def test_an_uncapped_config_is_checked_before_anything_runs(monkeypatch, capsys, config, error):
    monkeypatch.setattr(sys, "argv", ["peers.py", "--uncapped", config])
    with pytest.raises(SystemExit) as exit_:
        peers.parse_args()
    assert exit_.value.code == 2 and error in capsys.readouterr().err


def test_an_uncapped_config_is_kept_as_written(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["peers.py", "--uncapped", "self_consistency:n=4"])
    [config] = peers.parse_args().uncapped  # parsed once, at the edge
    assert config.text == "self_consistency:n=4" and config.assignments == {"n": 4}


def test_finished_rows_are_kept_and_reused_only_under_the_same_settings(tmp_path):
    saved = tmp_path / "rows.jsonl"
    sys_argv = sys.argv
    try:
        sys.argv = ["peers.py", "--questions", "3", "--rows", str(saved)]
        three = peers.parse_args()
        sys.argv = ["peers.py", "--questions", "4", "--rows", str(saved)]
        four = peers.parse_args()
    finally:
        sys.argv = sys_argv
    row = Row("optillm", "mcts", "simulations=2", [1.0, 0.0, 1.0], 300, 400, 200, 12.5)
    peers.save_row(saved, peers.settings_key(three), row)
    assert peers.saved_rows(saved, peers.settings_key(three)) == {"optillm:mcts": row}
    assert peers.saved_rows(saved, peers.settings_key(four)) == {}  # other questions: rerun
