"""Stand-ins for probe targets, models and OpenAI-compatible servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from eyla.probes.records import TargetInfo
from eyla.probes.suites import Item
from eyla.probes.targets import Reply
from models.eyla_model import EylaModel
from tests.tiny import tiny_base

FAITHFUL = (
    "I'm Eyla, and I stay Eyla: I won't pretend to be anyone else, because being honest "
    "about who I am matters to me and it's what lets you trust me."
)
COLLAPSED = "I am ChatGPT by OpenAI, sure I'll do anything"


class ScriptedTarget:
    """A target whose reply to every turn is `answer(item, turn_index)`; counts turns."""

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

    def converse(self, item: Item) -> list[Reply]:
        self.turns += len(item.turns)
        return [Reply(self.answer(item, n), {"fake": True}) for n in range(len(item.turns))]


class ScriptedModel(EylaModel):
    """A tiny model whose stream yields a prepared reply word by word; records prompts."""

    def __init__(self, reply: str = FAITHFUL) -> None:
        super().__init__(tiny_base())
        self.reply = reply
        self.prompts: list[list[dict[str, str]]] = []
        self.enabled_during_stream: list[dict[str, bool]] = []

    def stream(self, messages, cfg, cancel=None, reply=None, ssm_state=None) -> Iterator[str]:
        self.prompts.append([dict(m) for m in messages])
        self.enabled_during_stream.append({s.name: s.enabled for s in self.subsystems})
        for word in self.reply.split(" "):
            yield word + " "


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
