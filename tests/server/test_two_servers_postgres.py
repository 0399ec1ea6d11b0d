"""Two `eyla serve` processes on one PostgreSQL, as two machines behind a proxy would run:
20 concurrent clients of two users lose no message or memory and never cross users.

Each process is the real command on a tiny random Llama, with its own data dir (its own
index file) and the shared database; users and keys come from the store, as `eyla users
add` makes them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from memory.config import MemoryConfig
from memory.store import MemoryStore
from tests.postgres import missing_reason, start_server
from tests.tiny import tiny_base

CLIENTS = 20
TURNS = 3


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    server = start_server()
    if server is None:
        pytest.skip(missing_reason())
    try:
        yield server.new_database("two_servers")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model whose context holds Eyla's identity anchor."""
    base = tiny_base(context=2048)
    directory = tmp_path_factory.mktemp("tiny")
    base.model.save_pretrained(directory)
    base.tokenizer.save_pretrained(directory)
    return directory


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(home: Path, url: str, model: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "EYLA_HOME": str(home),
        "EYLA_MEMORY__DB_URL": url,
        # exact duplicates only: the facts below share most of their words by design
        "EYLA_MEMORY__DEDUP__NEAR": "false",
        "HF_HUB_OFFLINE": "1",
    }
    command = "from eyla.cli import main; main()"
    args = ["serve", "--port", str(port), "--model", str(model), "--queue-size", "16"]
    return subprocess.Popen(
        [sys.executable, "-c", command, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_ready(base: str, key: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"eyla serve exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/models", headers=_auth(key), timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("eyla serve did not start in 180 s")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_two_processes_twenty_clients_two_users(
    tmp_path: Path, database_url: str, model_dir: Path
) -> None:
    with MemoryStore.open(tmp_path / "admin", MemoryConfig(db_url=database_url)) as store:
        keys = {name: store.add_user(name)[1] for name in ("alice", "bob")}
        ids = {name: store.user_named(name).id for name in keys}

    ports = [_free_port(), _free_port()]
    servers = [
        _serve(tmp_path / f"home{i}", database_url, model_dir, port) for i, port in enumerate(ports)
    ]
    bases = [f"http://127.0.0.1:{port}/v1" for port in ports]
    told: dict[str, set[str]] = {"alice": set(), "bob": set()}
    try:
        for base, process in zip(bases, servers, strict=True):
            _wait_ready(base, keys["alice"], process)

        def client(i: int) -> list[str]:
            """TURNS facts in a session of its own, on one server; returns what it recalled."""
            name = "alice" if i % 2 == 0 else "bob"
            base = bases[(i // 2) % 2]  # each user's clients on both servers
            recalled = []
            for turn in range(TURNS):
                fact = f"My {name} code word number {turn} is {uuid.uuid4().hex[:10]}"
                told[name].add(fact)
                response = httpx.post(
                    f"{base}/chat/completions",
                    headers=_auth(keys[name]),
                    json={
                        "messages": [{"role": "user", "content": fact + "."}],
                        "user": f"client-{i}",
                        "max_tokens": 8,
                        "seed": i,
                    },
                    timeout=300,
                )
                assert response.status_code == 200, response.text
                recalled += [m["text"] for m in response.json()["eyla"]["memories"]]
            return recalled

        with ThreadPoolExecutor(CLIENTS) as pool:
            recalls = list(pool.map(client, range(CLIENTS)))
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            process.wait(timeout=60)

    for i, recalled in enumerate(recalls):
        other = "bob" if i % 2 == 0 else "alice"
        assert not set(recalled) & told[other], f"client {i} recalled {other}'s memory"
    with MemoryStore.open(tmp_path / "admin", MemoryConfig(db_url=database_url)) as store:
        for name, user_id in ids.items():
            view = store.for_user(user_id)
            assert {e.text for e in view.list(limit=1000)} == told[name]
            sessions = {s.title: s for s in view.list_sessions()}
            mine = [i for i in range(CLIENTS) if (i % 2 == 0) == (name == "alice")]
            for i in mine:
                transcript = view.messages(sessions[f"client-{i}"].id)
                users_said = [m.content for m in transcript if m.role == "user"]
                assert len(users_said) == TURNS and len(transcript) == 2 * TURNS
                assert all(text.startswith(f"My {name} ") for text in users_said)
