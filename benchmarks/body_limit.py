"""A 200 MB request body against `thinktime serve`: refused while reading, memory flat.

Starts the app (scripted backend) under uvicorn on loopback in this process, sends a chunked
body of `--megabytes` MiB without a Content-Length (so the server must count as it reads), and
prints the status and this process's resident memory before and after (client and server
share it, so the figure bounds what the server buffered).

    python benchmarks/body_limit.py --megabytes 200
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import psutil
import uvicorn

from thinktime.backends.fake import FakeBackend
from thinktime.serve.app import ServerConfig, create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    app = create_app(FakeBackend(["\\boxed{5}"]), ServerConfig(model="qwen"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    process = psutil.Process(os.getpid())
    before = process.memory_info().rss

    def body() -> Iterator[bytes]:
        yield b'{"model": "qwen", "messages": [{"role": "user", "content": "'
        for _ in range(args.megabytes):
            yield b"x" * (1 << 20)
        yield b'"}]}'

    try:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        json_type = {"Content-Type": "application/json"}  # anything else is a 415
        response = httpx.post(url, content=body(), headers=json_type, timeout=60)
        print(f"status {response.status_code}: {response.json()['error']['message']}")
    except httpx.HTTPError as exc:
        print(f"the server closed the connection early ({type(exc).__name__})")
    after = process.memory_info().rss
    print(f"resident memory: {before / 2**20:.0f} MiB before, {after / 2**20:.0f} MiB after")
    server.should_exit = True


if __name__ == "__main__":
    main()
