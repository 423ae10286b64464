"""`ThinktimeAPI`: the Inspect `ModelAPI` whose every `generate` is one `thinktime.solve` call.

Inspect builds one per `--model thinktime/MODEL` (MODEL is a thinktime model spec: `fake`,
`qwen2.5-coder-0.5b`, `openai:NAME`, a GGUF path) and calls `generate` once per model call of
each sample, many at once. So:

1) the `-M` args are parsed once, here, into a typed run (`args.parse_model_args`);
2) the engine is built once, here, and every call shares it (the embedded engine batches the
   calls of concurrent samples in its slots; Inspect's `--model-base-url` and `--model-api-key`
   reach an `openai:` backend as its `base_url` and `api_key`);
3) each `generate` maps the conversation and generate config in (`convert`), runs `solve` in a
   worker thread (it blocks until the answer is done; a cancelled sample stops it at the next
   token), and maps the `Result` out: the answer, `ModelUsage` from the bill, and the votes
   and samples in `metadata["thinktime"]`.

    inspect eval task.py --model thinktime/fake -M strategy=self_consistency -M n=8
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import anyio
from inspect_ai._util.error import PrerequisiteError  # what Inspect's own providers raise
from inspect_ai.model import ChatMessage, GenerateConfig, ModelAPI, ModelOutput
from inspect_ai.tool import ToolChoice, ToolInfo

from thinktime.api import solve
from thinktime.backends.base import BACKENDS, make_backend, split_spec
from thinktime.errors import ThinktimeError
from thinktime.inspect_provider.args import parse_model_args
from thinktime.inspect_provider.convert import conversation, model_output, reply_format, sampling


class ThinktimeAPI(ModelAPI):
    """Inspect's provider `thinktime` (see the module docstring)."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008 (Inspect's own signature)
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        try:
            self.run = parse_model_args(model_name, model_args)
            # Inspect's --model-base-url / --model-api-key, where the backend takes them
            given = {"base_url": base_url, "api_key": api_key}
            taken = BACKENDS.get_or_fail(split_spec(model_name)[0]).accepted(given)
            options = {k: v for k, v in taken.items() if v is not None}
            self.backend = make_backend(model_name, **{**options, **self.run.backend_options})
        except ThinktimeError as exc:
            # Inspect prints a PrerequisiteError as its message alone, not a traceback
            raise PrerequisiteError(f"thinktime/{model_name}: {exc}") from None

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        question, history, after = conversation(input)
        cancel = threading.Event()
        answer = functools.partial(
            solve,
            question,
            backend=self.backend,
            strategy=self.run.strategy,
            params=self.run.params,
            sampling=sampling(config),
            budget=self.run.budget,
            reasoning_effort=config.reasoning_effort,
            verifier=self.run.verifier,
            history=history,
            reply_format=reply_format(tools, tool_choice, config),
            after=after,
            cancel=cancel,
        )
        try:
            result = await anyio.to_thread.run_sync(answer, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            cancel.set()  # the sample was cancelled (a time limit, Ctrl-C): stop the engine too
            raise
        return model_output(result, self.backend.name)
