"""The OpenAI wire format, as far as Eyla speaks it, plus the `eyla` extension field.

Requests allow unknown fields (clients send many optional parameters); they are listed in
the reply's `eyla.ignored` instead of being rejected. Every number is bounded and every
text must be storable (see limits.py), so that what passes validation cannot fail later
in the model, the store or the reply.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from eyla.server.limits import (
    MAX_COMPLETION_TOKENS,
    MAX_MESSAGES,
    MAX_SEED,
    MAX_SESSION_CHARS,
    MAX_TEXT_CHARS,
    MIN_SEED,
)

MODEL_ID = "eyla"


def storable(text: str) -> str:
    """`text`, if SQLite, the tokenizer and a UTF-8 reply can all take it: JSON's
    `"\\ud800"` escapes parse into lone surrogates, which no UTF-8 encoder accepts."""
    if "\x00" in text:
        raise PydanticCustomError("invalid_text", "must not contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "invalid_text", "must be valid Unicode: it holds a lone surrogate"
        ) from None
    return text


Text = Annotated[str, AfterValidator(storable)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Lenient):
    type: str
    text: str | None = None


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    # checked once the union is resolved, so that an error names `content` plainly
    @field_validator("content")
    @classmethod
    def _storable_content(
        cls, content: str | list[ContentPart] | None
    ) -> str | list[ContentPart] | None:
        for text in _texts(content):
            storable(text)
        return content

    def chars(self) -> int:
        return sum(len(text) for text in _texts(self.content))


def _texts(content: str | list[ContentPart] | None) -> list[str]:
    if content is None or isinstance(content, str):
        return [content or ""]
    return [part.text for part in content if part.text]


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    # any name is accepted: clients often send a fixed one (e.g. "gpt-4o"); Eyla answers
    model: str = MODEL_ID
    messages: list[ChatMessage]
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=MAX_COMPLETION_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_COMPLETION_TOKENS)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=MIN_SEED, le=MAX_SEED)
    n: int | None = Field(None, ge=1)
    user: Text | None = Field(None, max_length=MAX_SESSION_CHARS)

    @field_validator("messages")
    @classmethod
    def _bounded(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if len(messages) > MAX_MESSAGES:
            raise PydanticCustomError(
                "too_long",
                "at most {limit} messages per request, not {given}",
                {"limit": MAX_MESSAGES, "given": len(messages)},
            )
        if (chars := sum(m.chars() for m in messages)) > MAX_TEXT_CHARS:
            raise PydanticCustomError(
                "too_long",
                "at most {limit} characters of text per request, not {given}",
                {"limit": MAX_TEXT_CHARS, "given": chars},
            )
        return messages


# -- the eyla extension ------------------------------------------------------------------


class EylaMemory(BaseModel):
    id: int
    text: str
    provenance: str
    score: float


class EylaViolation(BaseModel):
    kind: str
    evidence: str


class EylaExtension(BaseModel):
    """What Eyla knows about the reply beyond its text."""

    session_id: int
    confidence: float | None
    memories: list[EylaMemory]
    violations: list[EylaViolation]
    attempts: int
    notice: str | None
    cancelled: bool
    # parts of the request Eyla did not use: "system message" (identity comes from the
    # spec) and the names of unsupported parameters
    ignored: list[str]


# -- responses ---------------------------------------------------------------------------


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    eyla: EylaExtension


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = MODEL_ID
    choices: list[ChunkChoice]


class FinalChunk(ChatCompletionChunk):
    """The last chunk before `[DONE]`: it carries the extension."""

    eyla: EylaExtension


class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "eyla"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
