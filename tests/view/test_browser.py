"""The viewer in a real browser: headless Debian `chromium` driven by Playwright (no browser
download), against a live `thinktime view` process on a scripted-sweep store.

Skipped, with the reason, only where chromium or Playwright is missing (`make system-deps`
installs chromium; the `dev` extra installs Playwright).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.tree_store import HOSTILE, make_tree_store
from tests.helpers.view_store import QUESTIONS, make_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="chromium is missing: `apt-get install chromium` (make system-deps) to run it",
    ),
]
playwright = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is missing: pip install '.[dev]'"
)
expect = playwright.expect


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def viewer(tmp_path_factory):
    """`thinktime view STORE --port P` as its own process; yields the base URL."""
    yield from _serve(make_store(tmp_path_factory.mktemp("browser") / "toy.db"))


@pytest.fixture(scope="module")
def tree_viewer(tmp_path_factory):
    """The viewer over a stored beam search and particle filter (`tests/helpers/tree_store`)."""
    yield from _serve(make_tree_store(tmp_path_factory.mktemp("browser") / "trees.db"))


def _serve(store: Path):
    port = _free_port()
    command = [sys.executable, "-c", "from thinktime.cli import main; main()", "view",
               "--store", str(store), "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/api/stores", timeout=1).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"thinktime view did not start: {process.communicate()[0]!r}")
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox"])  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def problems() -> list[str]:
    """The page's console errors and uncaught exceptions (a test may expect some)."""
    return []


@pytest.fixture
def page(browser, problems):
    """A page that records console errors and uncaught exceptions; none may be left."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    page.close()
    assert problems == []


def _json(url: str):
    return json.loads(urllib.request.urlopen(url, timeout=10).read())


def test_runs_page_lists_every_config_and_draws_the_curves(viewer, page):
    page.goto(viewer + "/")
    page.wait_for_selector("svg.chart circle.pt")
    runs = _json(viewer + "/api/stores/toy/runs")["runs"]
    rows = page.locator("#runs tr[data-run]")
    assert rows.count() == len(runs) == 4
    for run, row in zip(runs, rows.all(), strict=True):
        text = row.inner_text()
        assert run["model"] in text and run["config"] in text and "object" not in text
        assert f"correct {run['verdicts']['correct']}" in text
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    points = _json(viewer + "/api/stores/toy/curves")["points"]
    assert charts.first.locator("circle.pt").count() == len(points)
    assert charts.first.locator("circle.pt.pareto").count() == sum(
        p["pareto_tokens"] for p in points
    )
    # hover a point: its config, k and accuracy appear
    charts.first.locator("circle.pt").first.hover()
    tip = page.locator("#tip")
    assert tip.is_visible() and "accuracy" in tip.inner_text()
    assert points[0]["config"] in tip.inner_text()


def test_filtering_to_wrong_shows_only_wrong_ones(viewer, page):
    page.goto(viewer + "/questions?store=toy&run=0")
    page.wait_for_selector("#questions tr[data-verdict]")
    assert page.locator("#questions tr[data-verdict]").count() == QUESTIONS
    page.select_option("select[name=verdict]", "wrong")
    page.wait_for_url("**verdict=wrong**")
    wrong = _json(viewer + "/api/stores/toy/questions?run=0&verdict=wrong")
    rows = page.locator("#questions tr[data-verdict]")
    assert wrong["total"] > 0
    expect(rows).to_have_count(wrong["total"])  # waits for the page to redraw
    assert {r.get_attribute("data-verdict") for r in rows.all()} == {"wrong"}


def test_the_question_page_shows_every_sample_its_answer_and_the_votes(viewer, page):
    page.goto(viewer + "/questions?store=toy&run=1")
    page.locator("#questions a", has_text="toy/1").first.click()
    page.wait_for_url("**/q/toy/1**")
    page.wait_for_selector("section.answer-block")
    detail = _json(viewer + "/api/stores/toy/questions/toy/1")
    sections = page.locator("section.answer-block")
    assert sections.count() == len(detail["answers"]) == 4
    for answer, section in zip(detail["answers"], sections.all(), strict=True):
        texts = section.locator("details.sample pre.text")
        assert texts.count() == len(answer["samples"])
        for sample, shown in zip(answer["samples"], texts.all(), strict=True):
            assert shown.text_content() == sample["text"]
            marks = shown.locator("mark.answer")
            if sample["highlight"] is None:
                assert marks.count() == 0
            else:
                start, end = sample["highlight"]
                assert marks.count() == 1 and marks.first.inner_text() == sample["text"][start:end]
        votes = section.locator("table.votes tr")
        assert votes.count() == 1 + len(answer["votes"])
        for cls, row in zip(answer["votes"], votes.all()[1:], strict=True):
            assert row.locator("td").nth(1).inner_text() == str(cls["votes"])
    assert page.locator("#gold").inner_text() == "2"
    assert page.locator("#question").inner_text() == "1 + 1?"  # the question as it was asked


def test_the_deep_link_opens_the_question(viewer, page, problems):
    page.goto(viewer + "/q/toy/4?store=toy")
    page.wait_for_selector("section.answer-block")
    assert page.locator("h1").inner_text() == "Question toy/4"
    assert page.locator("mark.answer").count() > 0
    page.goto(viewer + "/q/toy/404?store=toy")
    expect(page.locator("p.error")).to_contain_text("no question 'toy/404'")
    # the one console error: the browser's own line for the route's 404, which the page shows
    assert len(problems) == 1 and "404 (Not Found)" in problems.pop()


def test_compare_pairs_two_runs(viewer, page):
    page.goto(viewer + "/compare?store=toy&a=0&b=2")
    page.wait_for_selector("#paired")
    pair = _json(viewer + "/api/stores/toy/compare?a=0&b=2")
    cells = [c.inner_text() for c in page.locator("#paired td").all()]
    assert cells == [str(pair[k]) for k in ("both", "only_a", "only_b", "neither")]
    difference = page.locator("#difference").inner_text()
    assert "paired 95% CI" in difference and "McNemar p" in difference, difference
    links = page.locator("main p a")
    assert [a.inner_text() for a in links.all()] == pair["only_a_ids"] + pair["only_b_ids"]


def test_the_tree_of_a_stored_beam_search_and_particle_filter_is_drawn(tree_viewer, page):
    page.goto(tree_viewer + "/q/apples/0?store=trees")
    page.wait_for_selector("li.node")
    detail = _json(tree_viewer + "/api/stores/trees/questions/apples/0")
    sections = page.locator("section.answer-block")
    assert [a["strategy"] for a in detail["answers"]] == ["beam_search", "particle_filtering"]
    for answer, section in zip(detail["answers"], sections.all(), strict=True):
        tree = answer["tree"]
        block = section.locator(".tree-block")
        assert block.locator("h3").inner_text() == "Tree of steps"
        assert section.locator("p.note").count() == 0  # no "not the tree of steps" note
        # every node drawn once, nested under its parent, pruned and chosen ones marked
        nodes = block.locator("li.node")
        assert nodes.count() == len(tree)
        pruned = sum(not n["kept"] for n in tree)
        assert block.locator("li.node.pruned").count() == pruned >= 2  # the two bad first steps
        chosen = [n["id"] for n in tree if n["chosen"]]
        drawn = block.locator("li.node.chosen").all()
        assert [int(n.get_attribute("data-node")) for n in drawn] == chosen
        for node in tree:
            if node["parent"] is not None:
                nested = f'li[data-node="{node["parent"]}"] > ul > li[data-node="{node["id"]}"]'
                assert block.locator(nested).count() == 1
        leaf = block.locator(f'li[data-node="{chosen[-1]}"] > details > summary')
        assert "← answer" in leaf.inner_text() and f"{tree[chosen[-1]]['score']:.3f}" in (
            leaf.inner_text()
        )
        # the whole step on hover (title) and on click (its text below the line)
        bad = next(n for n in tree if HOSTILE in n["text"])
        summary = block.locator(f'li[data-node="{bad["id"]}"] > details > summary')
        assert summary.get_attribute("title") == bad["text"]
        assert "<img src=x" in summary.inner_text()  # shown as text, cut to one line
        full = block.locator(f'li[data-node="{bad["id"]}"] > details > pre.text')
        assert not full.is_visible()
        summary.click()
        expect(full).to_be_visible()
        assert full.text_content() == bad["text"]
    # the hostile markup in the model's steps ran nowhere and made no element
    assert page.evaluate("window.pwned") is None
    assert page.locator("main img, main script").count() == 0
    facts = page.locator("section.answer-block").nth(1).locator("li.node .facts").first
    assert "weight" in facts.inner_text() and "copies" in facts.inner_text()
