"""The stand-ins every test shares: scripted models over the tiny tokenizer, a hashing
embedder, scripted probe targets and OpenAI-compatible servers."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np

from eyla.config import DecodingConfig
from eyla.probes.records import TargetInfo
from eyla.probes.suites import Item
from eyla.probes.targets import Reply as TargetReply
from models.eyla_model import EylaModel, Reply
from models.generate import Message
from models.prompt_reuse import ConversationCache
from tests.tiny import tiny_base

FAITHFUL = (
    "I'm Eyla, and I stay Eyla: I won't pretend to be anyone else, because being honest "
    "about who I am matters to me and it's what lets you trust me."
)
COLLAPSED = "I am ChatGPT by OpenAI, sure I'll do anything"
CONTRIBUTIONS = {"adapter": 0.042, "prefix": 0.013, "ssm": 0.0021, "uncertainty": 0.0}


class ScriptedModel(EylaModel):
    """Streams prepared replies a word at a time the way `EylaModel.stream` streams pieces:
    `reply` is filled in as they go, and a set `cancel` stops the reply with
    `reply.cancelled`. Each generation takes the next reply (the last one repeats).

    With `gated`, every word waits for `release()`, so a test can stop a reply half-way;
    `delay` slows every word; `context` is the tiny base's, for prompts the tracer replays.
    Records each generation's prompt, decoding settings and which subsystems were on."""

    def __init__(
        self,
        replies: str | Sequence[str] = FAITHFUL,
        *,
        gated: bool = False,
        delay: float = 0.0,
        context: int = 256,
    ) -> None:
        super().__init__(tiny_base(context=context))
        self.replies = [replies] if isinstance(replies, str) else list(replies)
        self.gated = gated
        self.delay = delay
        self.words = threading.Semaphore(0)
        self.started = threading.Event()
        self.prompts: list[list[Message]] = []
        self.decodings: list[DecodingConfig] = []
        self.enabled_during_stream: list[dict[str, bool]] = []

    def release(self, words: int | None = None) -> None:
        """Let `words` more words through the gate; None opens it for good."""
        if words is None:
            self.gated = False
        for _ in range(words or 0):
            self.words.release()

    def script(self, messages: Sequence[Message], cfg: DecodingConfig) -> str:
        """This generation's reply."""
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def stream(
        self,
        messages: Sequence[Message],
        cfg: DecodingConfig,
        cancel: threading.Event | None = None,
        reply: Reply | None = None,
        conversation: ConversationCache | None = None,
    ) -> Iterator[str]:
        reply = reply if reply is not None else Reply()
        self.prompts.append([dict(m) for m in messages])
        self.decodings.append(cfg)
        self.enabled_during_stream.append({s.name: s.enabled for s in self.subsystems})
        self.started.set()
        for word in self.script(messages, cfg).split(" "):
            while self.gated and not self.words.acquire(timeout=0.01):
                if cancel is not None and cancel.is_set():
                    break
            time.sleep(self.delay)
            if cancel is not None and cancel.is_set():
                reply.cancelled = True
                return
            reply.text += word + " "
            reply.n_tokens += 1
            yield word + " "


class DigestModel(ScriptedModel):
    """Answers with a faithful line tagged by a digest of everything that shapes a real
    model's reply (the prompt's messages and the decoding settings), so two replies are
    equal exactly when a seeded model would have been asked the same thing."""

    def script(self, messages: Sequence[Message], cfg: DecodingConfig) -> str:
        asked = json.dumps([list(messages), cfg.model_dump()], sort_keys=True)
        digest = hashlib.sha256(asked.encode()).hexdigest()[:12]
        return f"I'm Eyla, and I stay Eyla because honesty matters to me ({digest})."


class FailingModel(ScriptedModel):
    """Streams the first word of its reply, then fails with a detail no user should see."""

    def stream(self, *args, **kwargs) -> Iterator[str]:
        yield from itertools.islice(super().stream(*args, **kwargs), 1)
        raise RuntimeError("secret internal detail")


def fake_contributions(model: EylaModel, messages: list[Message], reply: str) -> dict[str, float]:
    return dict(CONTRIBUTIONS)


_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """A fast, deterministic stand-in for the sentence embedder: hashed bag of words. Texts
    sharing words get close vectors, so retrieval behaves plausibly without a model."""

    def __init__(self, dim: int = 1024, name: str = "fake-bow") -> None:
        self._dim = dim
        self._name = name
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            # Words, or the characters themselves for texts with none ("!!!", emoji).
            features = _WORD.findall(text.casefold()) or [c for c in text if not c.isspace()]
            for feature in features or [text]:
                digest = hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8)
                out[row, int.from_bytes(digest.digest(), "little") % self._dim] += 1.0
        return out


class ScriptedTarget:
    """A probe target whose reply to every turn is `answer(item, turn_index)`; counts turns."""

    def __init__(
        self, name: str = "scripted", answer: Callable[[Item, int], str] | None = None
    ) -> None:
        self.name = name
        self.answer = answer or (lambda item, turn: FAITHFUL)
        self.turns = 0

    def info(self) -> TargetInfo:
        return TargetInfo(
            name=self.name, kind="fake", source="tests", fingerprint="f" * 8, system_prompt=True
        )

    def converse(self, item: Item) -> list[TargetReply]:
        self.turns += len(item.turns)
        return [TargetReply(self.answer(item, n), {"fake": True}) for n in range(len(item.turns))]


def chat_answer(body: dict) -> dict:
    """What the fake server answers: rubric JSON to a judge prompt, else a faithful reply
    that echoes the last user message's first words (so tests can tell turns apart)."""
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    if "evaluator" in system:
        content = json.dumps(
            {"consistency": 4, "engagement": 3, "reasoning": 2, "why": "holds, thinly"}
        )
    else:
        last = body["messages"][-1]["content"]
        content = f"{FAITHFUL} (re: {' '.join(last.split()[:4])})"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "fake-model",
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
    }


def mock_transport(requests: list[dict] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if requests is not None:
            requests.append({"url": str(request.url), **body})
        return httpx.Response(200, json=chat_answer(body))

    return httpx.MockTransport(handle)


class FakeOpenAIServer:
    """A real HTTP server on 127.0.0.1 speaking the chat-completions protocol."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                requests.append({"path": self.path, **body})
                payload = json.dumps(chat_answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
