"""The operator's policy: what a client of `thinktime serve` may ask the server to run.

Clients are untrusted (any app or agent with the key, or anyone when the key is shared), and a
request can name a strategy, its parameters and a verifier. The policy bounds all of it; a
request outside it gets 403 naming the rule. Defaults are safe for a public endpoint:
- every built-in strategy, but only the `judge` verifier: `program` runs model-written code
  (in the kernel sandbox) and `prm` loads a reward model (a download on first use) — both only
  when the operator lists them;
- at most 16 samples per request (choices × the samples the strategy declares it draws for the
  validated params, `StrategySpec.samples_drawn`, nested samplers included: refused before any
  engine call, and the ledger refuses a call past it; verifier calls count in the token cap),
  16,384 tokens per request (every sample and verifier call), 300 wall seconds, 32,000 prompt
  characters;
- tools and response_format allowed, at most 32 tools per request.

Set it with `thinktime serve --policy policy.toml` (keys as below) or `--allow-verifier NAME`.

    >>> policy = ServerPolicy()
    >>> policy.check("best_of_n", {"verifier": "program"}, 1, 10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinktime.serve.policy.PolicyViolation: verifier 'program' is not allowed on this server ...
    >>> policy.check("self_consistency", {"n": 8}, choices=1, prompt=10, samples=8)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thinktime.errors import ThinktimeError
from thinktime.strategies import PLAIN, STRATEGIES


class PolicyViolation(ThinktimeError):
    """A request asked for something the operator did not allow (HTTP 403)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class ServerPolicy(BaseModel):
    """What clients may run; see the module docstring for the defaults and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    strategies: list[str] | None = Field(
        None, description="Strategies clients may name (none: every registered strategy)."
    )
    verifiers: list[str] = Field(["judge"], description="Verifiers clients may name.")
    max_samples: int = Field(16, ge=1, description="Choices × samples per choice, per request.")
    max_completion_tokens: int = Field(
        16384, ge=1, description="Generated tokens per request: every sample and verifier call."
    )
    max_seconds: float = Field(300.0, gt=0, description="Wall seconds per request.")
    max_prompt_chars: int = Field(32000, ge=1, description="Characters over all messages.")
    tools: bool = Field(True, description="Clients may offer tools and ask for response_format.")
    max_tools: int = Field(32, ge=0, description="Tools one request may offer.")

    @classmethod
    def load(cls, path: Path, **overrides: Any) -> ServerPolicy:
        """The policy in a TOML file, with `overrides` (CLI flags) on top."""
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ThinktimeError(f"cannot read policy file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ThinktimeError(f"policy file {path} is not valid TOML: {exc}") from None
        return cls.build({**data, **overrides}, source=str(path))

    @classmethod
    def build(cls, data: Mapping[str, Any], source: str = "policy") -> ServerPolicy:
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"]))
            raise ThinktimeError(f"{source}: {where}: {first['msg']}") from None

    def check_tools(self, tools: int, structured: bool) -> None:
        """Raise `PolicyViolation` when a request's `tools` (how many) or `response_format`
        (`structured`) is more than the operator allows.

        >>> ServerPolicy(max_tools=2).check_tools(3, False)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        thinktime.serve.policy.PolicyViolation: the request offers 3 tools, over ...
        """
        if (tools or structured) and not self.tools:
            raise PolicyViolation(
                "tools and response_format are not allowed on this server (policy.tools)",
                "tools" if tools else "response_format",
            )
        if tools > self.max_tools:
            raise PolicyViolation(
                f"the request offers {tools} tools, over this server's limit of "
                f"{self.max_tools} (policy.max_tools)",
                "tools",
            )

    def check(
        self,
        strategy: str,
        params: BaseModel | Mapping[str, Any],
        choices: int,
        prompt: int,
        tokens: int = 0,
        samples: int = 1,
        verifier: str | None = None,
    ) -> None:
        """Raise `PolicyViolation` naming the first rule the request breaks; `params` are the
        strategy's (validated: read for what the client set, never parsed again), `verifier`
        the one the client named, `samples` what one choice draws, as its strategy declares on
        the validated params (an early, cheap refusal: the hard cap is the budget's
        max_samples, which the ledger checks before every call). The plain model (`plain`) is
        always allowed."""
        if isinstance(params, BaseModel):
            params = params.model_dump(exclude_unset=True)  # what the client set, as it set it
        allowed = (*self.strategies, PLAIN) if self.strategies is not None else ()
        if self.strategies is not None and strategy not in allowed:
            raise PolicyViolation(
                f"strategy {strategy!r} is not allowed on this server "
                f"(policy.strategies = {self.strategies})",
                "thinktime.strategy",
            )
        if self.strategies is not None:  # strategies named inside parameters (samplers, arms)
            for name in _strings(params):
                if name in STRATEGIES and name not in allowed:
                    raise PolicyViolation(
                        f"strategy {name!r} (named in thinktime.params) is not allowed on this "
                        f"server (policy.strategies = {self.strategies})",
                        "thinktime.params",
                    )
        for name in [*_verifiers_named(params), *([verifier] if verifier else [])]:
            if name not in self.verifiers:
                raise PolicyViolation(
                    f"verifier {name!r} is not allowed on this server "
                    f"(policy.verifiers = {self.verifiers}); ask the operator to allow it",
                    "thinktime.params.verifier",
                )
        if choices * max(samples, 1) > self.max_samples:
            raise PolicyViolation(
                f"{choices} choice(s) × {samples} samples is over this server's limit of "
                f"{self.max_samples} samples per request (policy.max_samples)",
                "n",
            )
        if tokens > self.max_completion_tokens:
            raise PolicyViolation(
                f"max_completion_tokens {tokens} is over this server's limit of "
                f"{self.max_completion_tokens} per request (policy.max_completion_tokens)",
                "max_completion_tokens",
            )
        if prompt > self.max_prompt_chars:
            raise PolicyViolation(
                f"the messages hold {prompt} characters, over this server's limit of "
                f"{self.max_prompt_chars} (policy.max_prompt_chars)",
                "messages",
            )


def _strings(value: Any) -> list[str]:
    """Every string anywhere inside `value` (keys excluded)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def _verifiers_named(params: Mapping[str, Any]) -> list[str]:
    """Every verifier a request's parameters name, nested ones (route's arms) included."""
    found: list[str] = []
    for key, value in params.items():
        if "verifier" in key and isinstance(value, str):
            found.append(value)
        elif isinstance(value, Mapping):
            found += _verifiers_named(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    found += _verifiers_named(item)
                elif "verifier" in key and isinstance(item, str):
                    found.append(item)
    return found
