"""The OpenAI wire format, as far as Eyla speaks it, plus the `eyla` extension field.

Requests allow unknown fields (clients send many optional parameters); they are listed in
the reply's `eyla.ignored` instead of being rejected.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MODEL_ID = "eyla"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Lenient):
    type: str
    text: str | None = None


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    # any name is accepted: clients often send a fixed one (e.g. "gpt-4o"); Eyla answers
    model: str = MODEL_ID
    messages: list[ChatMessage]
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = None
    n: int | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=256)


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
