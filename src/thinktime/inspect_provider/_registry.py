"""The module Inspect's `inspect_ai` entry point names: it registers the `thinktime` provider.

The provider class is imported only when Inspect builds a `thinktime/…` model, so listing
entry points (Inspect loads all of them for any unknown name) stays cheap.
"""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi


@modelapi(name="thinktime")
def thinktime() -> type[ModelAPI]:
    from thinktime.inspect_provider.provider import ThinktimeAPI

    return ThinktimeAPI
