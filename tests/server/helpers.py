"""Test helpers: the server on a real uvicorn (a free 127.0.0.1 port, in a thread), a
client that hangs up, and spies on the jobs the worker got and what the agent's turns
streamed."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from eyla.agent import Agent, TurnResult
from eyla.server.worker import ModelWorker, TurnJob
from models.eyla_model import EylaModel

# the `make_agent` fixture: an agent over a model and the test's store
MakeAgent = Callable[[EylaModel], Agent]


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL (`http://127.0.0.1:PORT/v1`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


@contextmanager
def hanging_up(url: str, body: dict) -> Iterator[None]:
    """A client on a real socket that posts `body` to `url`'s chat completions and hangs
    up, unanswered, when the block ends."""
    where = httpx.URL(url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {where.path}/chat/completions HTTP/1.1\r\n"
        f"Host: {where.host}:{where.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection((where.host, where.port), timeout=30) as sock:
        sock.sendall(head.encode() + payload)
        yield


def worker_of(app: FastAPI) -> ModelWorker:
    return app.state.worker


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def submitted(worker: ModelWorker) -> list[TurnJob]:
    """Every job given to `worker` from now on, in order."""
    jobs: list[TurnJob] = []
    submit = worker.submit

    def record(job: TurnJob) -> None:
        jobs.append(job)
        submit(job)

    worker.submit = record  # type: ignore[method-assign]
    return jobs


class TurnSpy:
    """Wraps `agent.turn` to record what each turn streamed and returned."""

    def __init__(self, agent: Agent) -> None:
        self.pieces: list[list[str]] = []
        self.results: list[TurnResult | None] = []
        original = agent.turn

        def turn(text: str, on_text=None, cancel=None, decoding=None) -> TurnResult | None:
            pieces: list[str] = []
            self.pieces.append(pieces)

            def record(piece: str) -> None:
                pieces.append(piece)
                if on_text is not None:
                    on_text(piece)

            result = original(text, on_text=record, cancel=cancel, decoding=decoding)
            self.results.append(result)
            return result

        agent.turn = turn  # type: ignore[method-assign]
