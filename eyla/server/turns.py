"""From an OpenAI chat request to an Eyla turn, and from the turn back to the extension.

The last user message is the turn's input. The user and assistant messages before it are
the conversation so far: the session's transcript catches up with them before the turn
(see `conversations.catch_up`). System messages are not used, since identity comes from
the spec; the reply says so in `eyla.ignored`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from eyla.agent import TurnResult
from eyla.config import DecodingConfig
from eyla.server.conversations import NEW_SESSION, SessionKey
from eyla.server.errors import ApiError
from eyla.server.limits import MAX_SESSION_CHARS
from eyla.server.schema import (
    ChatCompletionRequest,
    ChatMessage,
    EylaExtension,
    EylaMemory,
    EylaViolation,
)
from models.generate import Message

SESSION_HEADER = "X-Eyla-Session"
# "1" or "true": the turn opens a new untitled session, as `eyla ask` does in the terminal
NEW_SESSION_HEADER = "X-Eyla-New-Session"
# DecodingConfig's names as the client knows them, for error messages
WIRE_NAMES = {"max_new_tokens": "max_tokens"}


@dataclass(frozen=True)
class TurnSpec:
    text: str
    session: SessionKey
    decoding: DecodingConfig
    earlier: list[Message]
    ignored: list[str]


def turn_spec(
    request: ChatCompletionRequest,
    session_header: str | None,
    defaults: DecodingConfig,
    new_session_header: str | None = None,
) -> TurnSpec:
    if not request.messages:
        raise ApiError(400, "messages must not be empty", param="messages")
    if request.n not in (None, 1):
        raise ApiError(400, "only n=1 is supported", param="n")
    users = [i for i, m in enumerate(request.messages) if m.role == "user"]
    text = _text(request.messages[users[-1]]) if users else ""
    if not text.strip():
        raise ApiError(400, "messages hold no user message with text", param="messages")
    earlier = [
        {"role": m.role, "content": content}
        for m in request.messages[: users[-1]]
        if m.role in ("user", "assistant") and (content := _text(m)).strip()
    ]
    ignored = sorted(request.model_extra or {})
    if any(m.role in ("system", "developer") for m in request.messages):
        ignored.insert(0, "system message")
    session = _session(request.user, session_header)
    if _new_session(new_session_header):
        if session is not None:
            raise ApiError(
                400,
                f"{NEW_SESSION_HEADER} asks for a new session: name none with "
                f"{SESSION_HEADER} or `user`",
                param=NEW_SESSION_HEADER,
                code="invalid_value",
            )
        session = NEW_SESSION
    return TurnSpec(text, session, _decoding(request, defaults), earlier, ignored)


def extension(result: TurnResult, ignored: list[str]) -> EylaExtension:
    return EylaExtension(
        session_id=result.session_id,
        confidence=result.confidence,
        memories=[
            EylaMemory(id=m.id, text=m.text, provenance=m.provenance, score=m.score)
            for m in result.memories
        ],
        violations=[EylaViolation(kind=v.kind, evidence=v.evidence) for v in result.violations],
        attempts=result.attempts,
        notice=result.notice,
        cancelled=result.cancelled,
        ignored=ignored,
    )


def _text(message: ChatMessage) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    if any(part.type != "text" for part in message.content):
        raise ApiError(400, "only text content is supported", param="messages")
    return "".join(part.text or "" for part in message.content)


def _session(user: str | None, header: str | None) -> SessionKey:
    """The header names a session by id (ASCII digits) or title; `user` by title; neither,
    None."""
    if header is not None and (name := _header_text(header).strip()):
        # not str.isdigit alone: it takes "²", which int() does not
        return int(name) if name.isascii() and name.isdigit() else name
    return user if user and user.strip() else None


def _new_session(header: str | None) -> bool:
    if header is None or (value := header.strip().lower()) in ("0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise ApiError(
        400,
        f"{NEW_SESSION_HEADER} must be 1 or true (or 0 or false)",
        param=NEW_SESSION_HEADER,
        code="invalid_value",
    )


def _header_text(value: str) -> str:
    """The header as the client wrote it: HTTP carries bytes, which Starlette decodes as
    Latin-1, and a title is UTF-8."""
    malformed = ApiError(
        400,
        f"{SESSION_HEADER} must be a session id or a title of at most "
        f"{MAX_SESSION_CHARS} characters of UTF-8 text",
        param=SESSION_HEADER,
        code="invalid_value",
    )
    try:
        text = value.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise malformed from None
    if len(text) > MAX_SESSION_CHARS:
        raise malformed
    return text


def _decoding(request: ChatCompletionRequest, defaults: DecodingConfig) -> DecodingConfig:
    given = {
        "max_new_tokens": request.max_completion_tokens or request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
    }
    update = {k: v for k, v in given.items() if v is not None}
    try:
        return DecodingConfig.model_validate(defaults.model_dump() | update)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        name = str(first["loc"][0])
        name = WIRE_NAMES.get(name, name)
        raise ApiError(422, f"{name}: {first['msg']}", param=name, code="invalid_value") from None
