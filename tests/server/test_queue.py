"""One model worker: a full queue refuses with 503 + Retry-After; a client that leaves
mid-stream cancels its turn."""

from __future__ import annotations

import threading

import httpx

from eyla.server.app import create_app
from eyla.server.conversations import SharedStore
from tests.fakes import ScriptedModel
from tests.server.helpers import MakeAgent, TurnSpy, serving, wait_until, worker_of

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
