"""The README's screenshots of `thinktime view` on the headline store, and a route excerpt.

Starts `thinktime view STORE` on a free loopback port, drives the system chromium with
Playwright, writes runs.png, questions.png and question.png beside this file, and prints the
runs route's JSON (the README shows an excerpt).

    PYTHONPATH=src python docs/view/shoot.py docs/results/headline/gsm8k.db
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).parent


def main(store: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-c", "from thinktime.cli import main; main()", "view", store,
               "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                stores = json.loads(urllib.request.urlopen(base + "/api/stores").read())
                break
            except OSError:
                time.sleep(0.1)
        name = stores[0]["name"]
        print(urllib.request.urlopen(f"{base}/api/stores/{name}/runs").read().decode())
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            # 1) runs: the table and the curves, one point hovered
            page.goto(f"{base}/?store={name}")
            page.wait_for_selector("svg.chart circle.pt", timeout=120_000)
            page.locator("svg.chart").first.locator("circle.pt.pareto").last.hover()
            page.screenshot(path=HERE / "runs.png")
            # 2) questions: the 0.5B pool's wrong answers, least agreement first
            page.goto(f"{base}/questions?store={name}&run=1&verdict=wrong&sort=agreement")
            page.wait_for_selector("#questions tr[data-verdict]")
            page.screenshot(path=HERE / "questions.png")
            # 3) one question: the 0.5B pool of 16 split over three answers
            page.set_viewport_size({"width": 1280, "height": 1500})
            page.goto(f"{base}/q/gsm8k/test/1?store={name}")
            page.wait_for_selector("section.answer-block")
            page.evaluate("document.querySelector('section[data-run=\"1\"]').scrollIntoView()")
            page.screenshot(path=HERE / "question.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    for png in ("runs.png", "questions.png", "question.png"):
        print(png, (HERE / png).stat().st_size // 1024, "KB")


if __name__ == "__main__":
    main(sys.argv[1])
