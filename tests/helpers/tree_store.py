"""A store of step searches made by a scripted-backend sweep, for the tree view's tests.

One question (3 boxes of 12 apples, 10 eaten: 26) under beam search and particle filtering,
judged by the model itself (the scripted judge says yes to steps that reached 36). Each first
step is drawn good ("3 * 12 = 36") or bad (35, carrying hostile markup) alternately, so the
trees are known: beam search (2 beams × 2) keeps both good first steps and finishes four
children; particle filtering (4 particles) resamples only good ones, which then finish.
"""

from __future__ import annotations

from pathlib import Path

from thinktime.backends.fake import FakeBackend
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.tasks import Problem, Task

# model text is hostile input: the page must show it as text, never run it
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script>'
GOOD, BAD = "3 * 12 = 36", f"3 * 12 = 35 {HOSTILE}"
QUESTION = Problem("apples/0", "Tom has 3 boxes of 12 apples and eats 10. How many are left?", "26")
BEAM = "beam_search:beams=2,expand=2,max_steps=3"
PARTICLES = "particle_filtering:particles=4,max_steps=3"


def script(request, index):
    if request.prompt is None:  # the judge grading the steps so far
        return "yes" if "= 36" in request.messages[-1].content else "no"
    if "= 36" in request.prompt:  # second step: finish
        return "36 - 10 = \\boxed{26}"
    if "= 35" in request.prompt:
        return "35 - 10 = \\boxed{25}"
    return [GOOD, BAD][index % 2]


def make_tree_store(path: Path, configs: tuple[str, ...] = (BEAM, PARTICLES)) -> Path:
    store = Store(path)
    run_sweep(Task("apples", [QUESTION]), {"fake": FakeBackend(script)}, list(configs), store)
    store.close()
    return path
