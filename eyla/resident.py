"""`eyla ask` through a resident `eyla serve`: the question goes to the warm model over
loopback, and the answer streams back as the server's SSE chunks arrive.

Loading the model takes seconds (importing torch and transformers alone about 3 s on two
cores); a server that keeps it loaded answers in a fraction of that. This path imports
only the standard library's HTTP client, so it must stay free of model code.

What the answer is must not depend on which process gives it:
  - the server is used only when its turn-shaping settings equal this command's
    (`presence.settings_digest`), and the decoding settings travel with the request;
  - without --session the turn opens a new session (X-Eyla-New-Session), as an in-process
    ask does; --session N continues session N (X-Eyla-Session);
  - the owner's key goes along when the server has one (its key file, else
    $EYLA_API_KEY), since the terminal's user is the owner.
Anything that keeps the server from answering the way this process would (no server, a
stale file, other settings, a request it cannot carry, a key it refuses, a full queue) is
`None`: the caller answers in-process instead.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eyla.errors import EylaError
from eyla.server.limits import MAX_COMPLETION_TOKENS, MAX_SEED, MAX_TEXT_CHARS, MIN_SEED
from eyla.server.presence import Presence, find, settings_digest

if TYPE_CHECKING:
    from eyla.config import DecodingConfig, Settings

# a loopback server that does not accept within this is not one to wait for
CONNECT_SECONDS = 2.0
# the request's own bound on temperature (the settings allow more)
MAX_REQUEST_TEMPERATURE = 2.0
# refusals that come before the turn exists, so answering in-process repeats nothing
FALL_BACK_STATUSES = frozenset({401, 503})


@dataclass(frozen=True)
class Answer:
    """What the in-process turn's result tells the terminal after the text."""

    notice: str | None = None
    cancelled: bool = False


def ask_resident(
    settings: Settings, question: str, session: int | None, write: Callable[[str], None]
) -> Answer | None:
    """Stream the server's answer to `write`, or None when there is no server to ask."""
    presence = find(settings.home)
    if presence is None or presence.settings != settings_digest(settings):
        return None
    question = _clean(question)
    body = request_body(question, settings.decoding)
    if body is None:
        return None
    conn = http.client.HTTPConnection(presence.host, presence.port, timeout=CONNECT_SECONDS)
    try:
        try:
            conn.connect()
        except OSError:  # refused or unreachable: the file outlived its server
            return None
        assert conn.sock is not None
        # the turn may wait behind others, and a reply takes as long as it takes
        conn.sock.settimeout(None)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _exchange(conn, presence, body, session, _Output(write))
    except _OutputFailed as failed:
        raise failed.error from None  # stdout's trouble (a closed pipe), not the server's
    except (OSError, http.client.HTTPException) as exc:
        # the request reached the server, which may have started the turn: answering
        # in-process as well could say it twice
        where = f"{presence.host}:{presence.port}"
        raise EylaError(
            f"lost the Eyla server at {where} ({exc or type(exc).__name__}); ask again, "
            "or add --no-server"
        ) from exc
    except KeyboardInterrupt:
        # Ctrl-C: hanging up cancels the turn on the server (eyla/server/disconnect.py)
        write("\n")
        return Answer(cancelled=True)
    finally:
        conn.close()


class _OutputFailed(Exception):
    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Output:
    """`write`, its OSErrors told apart from the connection's."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def __call__(self, piece: str) -> None:
        try:
            self._write(piece)
        except OSError as exc:
            raise _OutputFailed(exc) from exc


def request_body(question: str, decoding: DecodingConfig) -> bytes | None:
    """The chat request for `question` with this command's decoding settings, or None
    when the request cannot say what the in-process turn would do."""
    if len(question) > MAX_TEXT_CHARS or decoding.max_new_tokens > MAX_COMPLETION_TOKENS:
        return None
    if decoding.temperature > MAX_REQUEST_TEMPERATURE:
        return None
    # a request without a seed gets the server's: only a given one is passed on
    if decoding.seed is None or not MIN_SEED <= decoding.seed <= MAX_SEED:
        return None
    body = {
        "model": "eyla",
        "messages": [{"role": "user", "content": question}],
        "stream": True,
        "max_tokens": decoding.max_new_tokens,
        "temperature": decoding.temperature,
        "top_p": decoding.top_p,
        "seed": decoding.seed,
    }
    # UTF-8 rather than \u escapes: the body stays within the server's byte limit
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _exchange(
    conn: http.client.HTTPConnection,
    presence: Presence,
    body: bytes,
    session: int | None,
    write: Callable[[str], None],
) -> Answer | None:
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if session is None:
        headers["X-Eyla-New-Session"] = "1"
    else:
        headers["X-Eyla-Session"] = str(session)
    if (key := owner_key(presence)) is not None:
        headers["Authorization"] = f"Bearer {key}"
    conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
    response = conn.getresponse()
    if response.status in FALL_BACK_STATUSES:
        return None
    if response.status != 200:
        raise EylaError(_error_message(response.read()) or f"server error {response.status}")
    answer = stream_answer(response, write)
    write("\n")
    return answer


def stream_answer(response: http.client.HTTPResponse, write: Callable[[str], None]) -> Answer:
    """Write each chunk's text as it arrives; the last chunk's `eyla` extension holds the
    notice and whether the turn was cancelled."""
    answer = Answer()
    while line := response.readline():
        if not line.startswith(b"data:"):
            continue  # the blank line between events
        data = line[5:].strip()
        if data == b"[DONE]":
            return answer
        try:
            event = json.loads(data)
        except ValueError:
            raise EylaError("the Eyla server sent a malformed event") from None
        if "error" in event:
            write("\n")
            raise EylaError(event["error"].get("message") or "the server's turn failed")
        for choice in event.get("choices", []):
            if text := choice.get("delta", {}).get("content"):
                write(text)
        if (extension := event.get("eyla")) is not None:
            answer = Answer(extension.get("notice"), bool(extension.get("cancelled")))
    raise EylaError("the Eyla server closed the connection mid-answer")


def owner_key(presence: Presence) -> str | None:
    """The key the server knows the owner by: its key file, else $EYLA_API_KEY (the
    server's order). A key that cannot be read is not sent; the server then refuses, and
    the question is answered in-process."""
    from eyla.server.cli import api_key

    path = Path(presence.key_file) if presence.key_file else None
    try:
        return api_key(path)
    except EylaError:
        return None


def _error_message(raw: bytes) -> str | None:
    try:
        error: Any = json.loads(raw)["error"]
        return str(error["message"])
    except (ValueError, KeyError, TypeError):
        return None


def _clean(text: str) -> str:
    """What `Agent.turn` does to its input (eyla/agent.py `_clean`, not imported: it
    brings the model code along): drop NUL and unpaired surrogates, which the server's
    request validation would refuse."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
