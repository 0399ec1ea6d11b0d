"""Twenty streaming clients for thirty seconds against the tiny model: the only failures
are deliberate 503s, and every accepted exchange is in its session's transcript."""

from __future__ import annotations

import threading
import time
from collections import Counter

import openai

from eyla.agent import Agent
from eyla.config import DecodingConfig, Settings
from eyla.identity import IdentitySpec
from eyla.server.app import create_app
from eyla.server.conversations import SharedStore
from memory.store import MemoryStore
from models.eyla_model import EylaModel
from tests.server.helpers import serving
from tests.tiny import tiny_base

CLIENTS = 20
SECONDS = 30.0
SHORT_IDENTITY = IdentitySpec(
    name="Eyla", creator="the Eyla project", kind="an assistant", purpose="to help", values=["care"]
)


def test_twenty_streaming_clients_for_thirty_seconds(store: MemoryStore):
    # a short identity keeps each prompt short, so the run spends its time on serving
    agent = Agent(EylaModel(tiny_base(context=1024)), store, SHORT_IDENTITY, Settings())
    agent.settings.decoding = DecodingConfig(max_new_tokens=8, temperature=0.8)
    accepted: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    errors: list[str] = []

    def client_loop(url: str, user: str, deadline: float) -> None:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            try:
                stream = client.chat.completions.create(
                    model="eyla",
                    messages=[{"role": "user", "content": f"message {n} from {user}"}],
                    stream=True,
                    user=user,
                    max_tokens=6,
                )
                chunks = list(stream)
            except openai.APIStatusError as exc:
                if exc.status_code != 503:
                    errors.append(f"{user}: {exc.status_code} {exc.message}")
                    return
                refused[user] += 1
                retry_after = float(exc.response.headers["Retry-After"])
                time.sleep(min(retry_after, max(0.0, deadline - time.monotonic())))
                continue
            except Exception as exc:
                errors.append(f"{user}: {exc!r}")
                return
            if chunks[-1].model_extra.get("eyla") is None:
                errors.append(f"{user}: the stream ended without its final chunk")
                return
            accepted[user] += 1

    with serving(create_app(SharedStore(agent))) as url:
        deadline = time.monotonic() + SECONDS
        users = [f"client-{i}" for i in range(CLIENTS)]
        threads = [threading.Thread(target=client_loop, args=(url, u, deadline)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SECONDS + 60)
        assert not any(t.is_alive() for t in threads)

    total, n_refused = sum(accepted.values()), sum(refused.values())
    print(f"\n{CLIENTS} clients, {SECONDS:.0f} s: {total} accepted, {n_refused} refused (503)")
    assert errors == []
    assert total > 0
    sessions = {s.title: s.id for s in agent.store.list_sessions()}
    for user in users:
        # a client refused every time never got a session
        transcript = agent.store.messages(sessions[user]) if user in sessions else []
        roles = Counter(m.role for m in transcript)
        assert roles["user"] == roles["assistant"] == accepted[user], user
