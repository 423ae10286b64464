"""A reasoning model's thinking on the server's wire: apart from the answer, under the names
clients read, streamed before the answer, and never sent back to the model.

1) **Names.** vLLM calls a message's thinking `reasoning` (its current name), older vLLM,
   SGLang, DeepSeek and llama.cpp `reasoning_content`; the server writes either or both
   (`thinktime serve --reasoning-field`, default `both`), in messages and stream deltas alike.
2) **Streams.** An engine that writes its thinking inside the content (`<think>…</think>`, the
   tags the backend's `think_tags` name) streams it as text pieces; `ThinkingSplitter` sorts
   them as they come into thinking and answer, holding back only what could still be the start
   of a tag, so the thinking deltas, joined, are what `split_thinking` gives for the whole
   reply, and so are the content deltas. A reply that does not open with the tag is answer
   from its first piece: a template that opens the thinking itself (only `</think>` shows)
   cannot be told apart from a plain reply until its end, so it streams as content.
3) **History.** An earlier assistant turn may carry its thinking (`reasoning`,
   `reasoning_content`, or tags in its content): as R1 and Qwen3 templates do, the thinking is
   dropped and only the visible answer goes back to the model (`visible`).

    >>> splitter = ThinkingSplitter()
    >>> [splitter.feed(p) for p in ["<thi", "nk>\\n2+2", " is 4</th", "ink>\\n\\n4"]]
    [[], [('thinking', '2+2')], [('thinking', ' is 4')], [('content', '4')]]
    >>> splitter.finish()
    []
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from thinktime.backends.thinking import THINK, ThinkTags, split_thinking

ReasoningField = Literal["reasoning_content", "reasoning", "both"]
Kind = Literal["thinking", "content"]


def reasoning_names(field: ReasoningField) -> tuple[str, ...]:
    """The message fields that carry the thinking under `field`.

    >>> reasoning_names("both"), reasoning_names("reasoning")
    (('reasoning_content', 'reasoning'), ('reasoning',))
    """
    return ("reasoning_content", "reasoning") if field == "both" else (field,)


@runtime_checkable
class WritesThinkTags(Protocol):
    """A backend that splits a model's `<think>` content with per-model tags (None: it does not)."""

    think_tags: ThinkTags | None


def think_tags(backend: object) -> ThinkTags | None:
    """The tags `backend`'s model thinks between (R1's `<think>` unless it says otherwise)."""
    return backend.think_tags if isinstance(backend, WritesThinkTags) else THINK


def visible(content: str, tags: ThinkTags | None = THINK) -> str:
    """An earlier assistant turn's text as the model is shown it: its thinking dropped.

    >>> visible("<think>5? no</think>\\n\\n4"), visible("4")
    ('4', '4')
    """
    return split_thinking(content, tags)[1]


def _held(text: str, tag: str) -> int:
    """How many characters at the end of `text` could be the start of `tag` (kept back)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkingSplitter:
    """Sorts a streamed reply's text pieces into thinking and answer (see the module docs).

    `feed` returns the (kind, text) pieces that are certain so far; `finish`, at the end of the
    stream, what was held back. Thinking keeps `split_thinking`'s trimming: no blank around
    it, none at the start of the answer after it.

    >>> splitter = ThinkingSplitter()
    >>> splitter.feed("<think>cut off while </"), splitter.finish()  # the tail was held back
    ([('thinking', 'cut off while')], [('thinking', ' </')])
    >>> ThinkingSplitter().feed("plain answer")
    [('content', 'plain answer')]
    """

    def __init__(self, tags: ThinkTags | None = THINK) -> None:
        self.tags = tags
        # before the first visible character; inside the thinking; between the close tag and
        # the answer (blank dropped); in the answer
        self.state: Literal["start", "thinking", "closed", "content"] = (
            "start" if tags is not None else "content"
        )
        self.pending = ""  # text not yet sorted: blank, or what may still become a tag
        self.thought = False  # some thinking has been given out (its leading blank is dropped)

    def feed(self, piece: str) -> list[tuple[Kind, str]]:
        """The pieces of text that `piece` makes certain, in order."""
        self.pending += piece
        out: list[tuple[Kind, str]] = []
        while self.pending:
            if not self._step(out):
                break
        return out

    def finish(self) -> list[tuple[Kind, str]]:
        """What was held back, once the reply has ended: thinking cut off, or a plain reply."""
        rest, self.pending = self.pending, ""
        if self.state == "thinking":
            text = rest.rstrip() if self.thought else rest.strip()
            return [("thinking", text)] if text else []
        if self.state == "closed":
            return []
        return [("content", rest)] if rest else []

    def _step(self, out: list[tuple[Kind, str]]) -> bool:
        """Sort what `pending` allows; False when the rest must wait for more text."""
        assert self.tags is not None or self.state == "content"
        if self.state == "content":
            out.append(("content", self.pending))
            self.pending = ""
            return False
        assert self.tags is not None
        opening, closing = self.tags.open, self.tags.close
        if self.state == "start":
            # 1) does the reply open with the tag? blank and a part of the tag must wait
            body = self.pending.lstrip()
            if body.startswith(opening):
                self.state, self.pending = "thinking", body[len(opening) :]
                return True
            if not body or opening.startswith(body):
                return False
            self.state = "content"  # a plain reply: given out as it is
            return True
        if self.state == "thinking":
            # 2) thinking up to the close tag; blank at its end waits (it is trimmed there)
            head, closed, rest = self.pending.partition(closing)
            if closed:
                self._think(head.rstrip(), out)
                self.state, self.pending = "closed", rest
                return True
            keep = _held(self.pending, closing)
            head = self.pending[: len(self.pending) - keep]
            text = head.rstrip()
            self._think(text, out)
            self.pending = head[len(text) :] + self.pending[len(head) :]
            return False
        # 3) after the close tag, the answer starts at its first visible character
        answer = self.pending.lstrip()
        self.pending = answer
        if answer:
            self.state = "content"
            return True
        return False

    def _think(self, text: str, out: list[tuple[Kind, str]]) -> None:
        if not self.thought:
            text = text.lstrip()
        if text:
            out.append(("thinking", text))
            self.thought = True
