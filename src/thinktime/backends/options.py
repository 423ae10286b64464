"""Typed options per backend: each backend declares what its factory takes, and nothing else passes.

An option a backend does not take (`n_parallel` for a hosted API, anything for the scripted
fake) is a one-line error naming the backend and the options it does take, instead of a
`TypeError` from deep inside its constructor or an option silently dropped.

    >>> from pydantic import Field
    >>> class SlotOptions(BackendOptions):
    ...     n_parallel: int = Field(8, ge=1, description="Sequences decoded at once.")
    >>> parse_options("toy", SlotOptions, {"n_parallel": "4"}).n_parallel
    4
    >>> parse_options("toy", SlotOptions, {"seed": 5})
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: backend 'toy' takes no option 'seed' (its options: n_parallel)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from thinktime.errors import ThinktimeError


class BackendOptions(BaseModel):
    """What a backend's factory takes besides the model name; unknown options are refused.

    Subclass it with one documented field per option; its defaults should be the backend's own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    def as_kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments, values as given (objects are not dumped to dicts).

        >>> NoOptions().as_kwargs()
        {}
        """
        return {name: getattr(self, name) for name in type(self).model_fields}


class NoOptions(BackendOptions):
    """A backend that takes no options (e.g. the scripted fake)."""


OptionsT = TypeVar("OptionsT", bound=BackendOptions)


def parse_options(
    backend: str, options_type: type[OptionsT], options: Mapping[str, object]
) -> OptionsT:
    """`options` checked against the backend's options model; any problem is one line."""
    takes = ", ".join(options_type.model_fields) or "none"
    try:
        return options_type.model_validate(dict(options))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(map(str, error["loc"])) or "options"
        if error["type"] == "extra_forbidden":
            raise ThinktimeError(
                f"backend {backend!r} takes no option {field!r} (its options: {takes})"
            ) from None
        raise ThinktimeError(
            f"bad option for backend {backend!r}: {field}: {error['msg']} (its options: {takes})"
        ) from None
