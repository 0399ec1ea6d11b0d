"""A minimal client for any OpenAI-compatible chat-completions server (llama.cpp, vLLM,
Ollama, OpenAI itself): non-streaming, validated at the edge, errors as one line.

An endpoint is written `URL[?model=NAME]`, e.g. `http://127.0.0.1:8080/v1?model=qwen`.
A key is sent only where told (`api_key_for`): a key sent to the wrong server is a key
given away.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from eyla.errors import EylaError
from eyla.server.bind import is_loopback

DEFAULT_MODEL = "default"  # what llama.cpp and most single-model servers accept
COMPLETIONS = "/chat/completions"
OPENAI_HOST = "api.openai.com"
OPENAI_KEY_VARIABLE = "OPENAI_API_KEY"


class Endpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    model: str = DEFAULT_MODEL

    @classmethod
    def parse(cls, spec: str) -> Endpoint:
        parts = urlsplit(spec)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise EylaError(f"not an http(s) URL: {spec!r} (e.g. http://127.0.0.1:8080/v1)")
        query = parse_qs(parts.query)
        model = query.pop("model", [DEFAULT_MODEL])[0]
        path = parts.path.rstrip("/")
        if not path.endswith(COMPLETIONS):
            path += COMPLETIONS
        rest = urlencode(query, doseq=True)
        return cls(url=urlunsplit((parts.scheme, parts.netloc, path, rest, "")), model=model)


def api_key_for(endpoint: Endpoint, variable: str | None = None) -> str | None:
    """The key to send `endpoint`: from the environment variable `variable` when one is
    named (`eyla probe --api-key-env`), else $OPENAI_API_KEY for OpenAI's own API alone,
    else none. Never over plain http off this machine, where anyone on the way reads it."""
    parts = urlsplit(endpoint.url)
    if variable is None:
        openai = parts.scheme == "https" and parts.hostname == OPENAI_HOST
        return (os.environ.get(OPENAI_KEY_VARIABLE) or None) if openai else None
    key = os.environ.get(variable, "").strip()
    if not key:
        raise EylaError(f"--api-key-env {variable}: the variable is not set or blank")
    if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
        raise EylaError(
            f"--api-key-env {variable}: not sending a key over plain http to "
            f"{parts.hostname}; use https, or leave the key out"
        )
    return key


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    message: _Message


class _Completion(BaseModel):
    """The fields we read from a chat-completions answer; servers add many more."""

    model: str | None = None
    system_fingerprint: str | None = None
    choices: list[_Choice]


class ChatReply(BaseModel):
    text: str
    model: str | None = None
    system_fingerprint: str | None = None


class ChatClient:
    """Posts chat completions to one endpoint, with the key `api_key_for` picks from
    `api_key_env`. `transport` lets tests answer in-process."""

    def __init__(
        self,
        endpoint: Endpoint,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 300.0,
        api_key_env: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        headers = {}
        if key := api_key_for(endpoint, api_key_env):
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(transport=transport, timeout=timeout_s, headers=headers)

    def complete(
        self,
        messages: Sequence[dict[str, str]],
        *,
        temperature: float,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int | None = None,
        user: str | None = None,
    ) -> ChatReply:
        body = {
            "model": self.endpoint.model,
            "messages": list(messages),
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "stream": False,
        }
        if seed is not None:
            body["seed"] = seed
        if user is not None:
            body["user"] = user
        url = self.endpoint.url
        try:
            response = self._http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise EylaError(f"cannot reach {url}: {exc}") from exc
        if response.status_code != 200:
            raise EylaError(f"{url} answered {response.status_code}: {response.text[:200]}")
        try:
            completion = _Completion.model_validate_json(response.content)
        except ValidationError as exc:
            raise EylaError(f"{url} did not answer as a chat-completions server: {exc}") from exc
        if not completion.choices:
            raise EylaError(f"{url} answered with no choices")
        return ChatReply(
            text=completion.choices[0].message.content or "",
            model=completion.model,
            system_fingerprint=completion.system_fingerprint,
        )
