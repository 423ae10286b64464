"""A server like Ollama or many proxies: it forwards chat requests to a real engine but ignores
`n` and logprobs, answering one choice with that call's usage.

    python tests/helpers/ignoring_proxy.py UPSTREAM_BASE_URL   (prints its own base URL)
"""

import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = sys.argv[1].rstrip("/")


class Proxy(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for ignored in ("n", "logprobs", "top_logprobs"):
            body.pop(ignored, None)
        request = urllib.request.Request(
            UPSTREAM + self.path.removeprefix("/v1"),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            reply = response.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    print(f"http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
