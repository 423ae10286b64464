"""llama.cpp's own HTTP server in a process of its own, running a GGUF (a test fixture's peer).

xllamacpp's `Server` starts llama.cpp's listener on loopback; this process prints its address
on one line and then serves until it is killed. Used by tests that must talk to a real server
process over HTTP, as users do with `llama-server`, vLLM or SGLang.

    python tests/helpers/llama_server.py MODEL.gguf SLOTS
"""

import sys
import time

import xllamacpp


def main() -> None:
    path, slots = sys.argv[1], int(sys.argv[2])
    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_parallel = slots
    params.kv_unified = True
    params.n_ctx = slots * 2048
    params.cont_batching = True
    params.warmup = False
    params.endpoint_metrics = True
    params.verbosity = -1
    server = xllamacpp.Server(params)
    print(server.listening_address, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
