"""A minimal client for any OpenAI-compatible chat-completions server (llama.cpp, vLLM,
Ollama, OpenAI itself): non-streaming, validated at the edge, errors as one line.

An endpoint is written `URL[?model=NAME]`, e.g. `http://127.0.0.1:8080/v1?model=qwen`; the
key, if the server wants one, comes from `OPENAI_API_KEY`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from eyla.errors import EylaError

DEFAULT_MODEL = "default"  # what llama.cpp and most single-model servers accept
COMPLETIONS = "/chat/completions"


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
    """Posts chat completions to one endpoint. `transport` lets tests answer in-process."""

    def __init__(
        self,
        endpoint: Endpoint,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        self.endpoint = endpoint
        headers = {}
        if key := os.environ.get("OPENAI_API_KEY"):
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
