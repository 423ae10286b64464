"""llama.cpp's own HTTP server in a process of its own, running a GGUF (a test fixture's peer).

xllamacpp's `Server` starts llama.cpp's listener on loopback; this process prints its address
on one line and then serves until it is killed. Used by tests that must talk to a real server
process over HTTP, as users do with `llama-server`, vLLM or SGLang.

    python tests/helpers/llama_server.py MODEL.gguf SLOTS [CONTEXT_PER_SLOT]

The engine is laid out as the embedded one is: a KV cache per slot, flash attention.
"""

import sys
import time

import xllamacpp


def main() -> None:
    path, slots = sys.argv[1], int(sys.argv[2])
    context = int(sys.argv[3]) if len(sys.argv) > 3 else 2048
    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_parallel = slots
    params.kv_unified = False
    params.flash_attn_type = 1
    params.n_ctx = slots * context
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
