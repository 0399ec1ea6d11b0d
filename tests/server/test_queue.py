"""One model worker: a full queue refuses with 503 + Retry-After; a client that leaves
cancels its turn, mid-stream or before a non-streaming reply, and one that leaves while
its turn waits in the queue is dropped before the turn starts."""

from __future__ import annotations

import threading

import httpx
import pytest

from eyla.server.app import create_app
from eyla.server.conversations import SharedStore
from tests.fakes import ScriptedModel
from tests.server.helpers import (
    MakeAgent,
    TurnSpy,
    hanging_up,
    serving,
    submitted,
    wait_until,
    worker_of,
)

HI = {"messages": [{"role": "user", "content": "hi"}]}


def test_a_full_queue_answers_503_with_retry_after(make_agent: MakeAgent):
    model = ScriptedModel(gated=True)
    app = create_app(SharedStore(make_agent(model)), queue_size=1)
    statuses: list[int] = []

    def ask(stream: bool) -> None:
        response = httpx.post(f"{url}/chat/completions", json=HI | {"stream": stream}, timeout=30)
        statuses.append(response.status_code)

    with serving(app) as url:
        running = threading.Thread(target=ask, args=(True,))
        running.start()
        assert model.started.wait(10)
        waiting = threading.Thread(target=ask, args=(False,))
        waiting.start()
        wait_until(lambda: worker_of(app).waiting == 1)

        refused = httpx.post(f"{url}/chat/completions", json=HI, timeout=30)
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["code"] == "queue_full"

        model.release()
        running.join(30)
        waiting.join(30)
    assert statuses == [200, 200]


def test_leaving_mid_stream_cancels_the_turn(make_agent: MakeAgent):
    model = ScriptedModel(" ".join(["word."] * 400), delay=0.02)
    agent = make_agent(model)
    spy = TurnSpy(agent)
    with serving(create_app(SharedStore(agent))) as url:
        body = HI | {"stream": True}
        with (
            httpx.Client(timeout=30) as client,
            client.stream("POST", f"{url}/chat/completions", json=body) as response,
        ):
            lines = response.iter_lines()
            assert any('"content":"word. "' in line for line in lines)
        # the client has hung up after the first words; the turn must stop early
        wait_until(lambda: spy.results != [])
    result = spy.results[0]
    assert result.cancelled
    assert len(spy.pieces[0]) < 100


def test_leaving_before_a_non_streaming_reply_cancels_the_turn(make_agent: MakeAgent):
    model = ScriptedModel(gated=True)
    agent = make_agent(model)
    spy = TurnSpy(agent)
    with serving(create_app(SharedStore(agent))) as url:
        with hanging_up(url, HI):
            assert model.started.wait(10)
            model.release(2)
        # the gate stays shut: only the cancel event can end this turn
        wait_until(lambda: spy.results != [])
    result = spy.results[0]
    assert result.cancelled
    assert len(model.prompts) == 1  # not regenerated either


@pytest.mark.parametrize("stream", [False, True])
def test_leaving_the_queue_drops_the_turn_before_it_starts(make_agent: MakeAgent, stream: bool):
    model = ScriptedModel(gated=True)
    agent = make_agent(model)
    spy = TurnSpy(agent)
    app = create_app(SharedStore(agent))
    jobs = submitted(worker_of(app))
    statuses: list[int] = []

    def stay() -> None:
        body = HI | {"user": "stays"}
        statuses.append(httpx.post(f"{url}/chat/completions", json=body, timeout=30).status_code)

    with serving(app) as url:
        running = threading.Thread(target=stay)
        running.start()
        assert model.started.wait(10)
        leaving = {"messages": [{"role": "user", "content": "never"}], "user": "leaves"}
        with hanging_up(url, leaving | {"stream": stream}):
            wait_until(lambda: worker_of(app).waiting == 1)
        wait_until(lambda: jobs[1].cancel.is_set())
        model.release()
        running.join(30)
        wait_until(jobs[1].future.done)
    assert statuses == [200]
    assert jobs[1].future.cancelled()
    assert len(spy.results) == 1 and len(model.prompts) == 1
    # its turn never began: not even its session was made
    assert [s.title for s in agent.store.list_sessions() if s.title] == ["stays"]
