"""Third-party plugins: an installed package's `thinktime.plugins` entry point registers a
strategy and a verifier exactly as built-ins do, and `solve` runs them; a plugin that fails to
import is a one-line error.

Each test installs a throwaway distribution (a `*.dist-info` folder with `METADATA` and
`entry_points.txt`, beside its module) on a temporary `sys.path` entry, the way pip would.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import thinktime
from thinktime import registry
from thinktime.backends.fake import FakeBackend
from thinktime.errors import ThinktimeError
from thinktime.strategies.base import STRATEGIES, get_strategy
from thinktime.verifiers.base import VERIFIERS, make_verifier

PLUGIN = '''
"""A toy thinktime plugin: a strategy that lets the verifier pick, and a verifier."""
from pydantic import BaseModel, Field

from thinktime.strategies.base import Outcome, register_strategy
from thinktime.verifiers.base import register_verifier


class PickParams(BaseModel):
    n: int = Field(3, ge=1, description="Samples to pick from.")


@register_strategy(
    "toy_pick", "Sample n, keep the verifier's favourite.", "none", PickParams,
    uses_verifier=True,  # it scores with ctx.verifier: solve passes one (the judge by default)
)  # fmt: skip
def toy_pick(question, ctx, params):
    [samples] = ctx.sample([ctx.messages(question)], n=params.n)
    scores = ctx.verifier.score(question, [s.text for s in samples], ctx.ledger)
    best = max(range(len(samples)), key=scores.__getitem__)
    return Outcome(answer=samples[best].answer, samples=tuple(samples), chosen=best)


class LikesSeven:
    name = "toy_likes_seven"

    def score(self, question, candidates, ledger, partial=False):
        return [1.0 if "7" in c else 0.0 for c in candidates]


@register_verifier("toy_likes_seven")
def _factory():
    return LikesSeven()
'''


def install(root: Path, module: str, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Put a distribution whose `thinktime.plugins` entry point is `module` on `sys.path`."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    name = module.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[thinktime.plugins]\n{module} = {module}\n")
    monkeypatch.syspath_prepend(str(root))  # also clears the import system's caches
    # plugins load once per process: make the next registry read look again
    monkeypatch.setitem(registry._plugins, "loaded", False)


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    install(tmp_path, "thinktime_toy_plugin", PLUGIN, monkeypatch)
    yield
    for entries, name in ((STRATEGIES, "toy_pick"), (VERIFIERS, "toy_likes_seven")):
        if name in entries._entries:
            del entries[name]
    sys.modules.pop("thinktime_toy_plugin", None)


def test_a_plugin_registers_like_a_builtin_and_runs_through_solve(toy_plugin):
    assert "toy_pick" in STRATEGIES and "toy_likes_seven" in VERIFIERS
    # listed after the built-ins, looked up and built the same way they are
    names = list(STRATEGIES)
    assert names.index("toy_pick") > names.index("cot")
    assert get_strategy("toy_pick").description == "Sample n, keep the verifier's favourite."
    assert make_verifier("toy_likes_seven").name == "toy_likes_seven"
    backend = FakeBackend(["\\boxed{5}", "\\boxed{7}", "\\boxed{5}"])
    result = thinktime.solve(
        "What is 3 + 4?", backend=backend, strategy="toy_pick", verifier="toy_likes_seven"
    )
    assert result.answer == "7" and result.strategy == "toy_pick"
    assert result.bill.samples == 3 and result.details["params"] == {"n": 3}
    # its parameters are checked like a built-in's
    with pytest.raises(ThinktimeError, match="bad parameters for strategy 'toy_pick'"):
        thinktime.solve("?", backend=backend, strategy="toy_pick", n=0)


def test_a_plugin_that_fails_to_import_is_one_line(tmp_path, monkeypatch):
    install(tmp_path, "thinktime_broken_plugin", "raise RuntimeError('boom')\n", monkeypatch)
    with pytest.raises(ThinktimeError) as error:
        "toy_anything" in STRATEGIES  # noqa: B015 (reading a registry loads the plugins)
    message = str(error.value)
    assert message == (
        "thinktime plugin 'thinktime_broken_plugin' (thinktime_broken_plugin) failed to load: "
        "boom; fix or uninstall that package"
    )
