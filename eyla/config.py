"""Settings: defaults < `eyla.toml` in the data dir < `EYLA_*` environment < CLI flags."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from eyla import data as shipped_data
from eyla.errors import EylaError, first_problem
from memory.config import MemoryConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
# the checkout's data/, installed as the package `eyla.data` (pyproject.toml): found the
# same way in an editable install and in a wheel
DATA_DIR = Path(shipped_data.__file__).resolve().parent


def data_home() -> Path:
    """`EYLA_HOME`, else `$XDG_DATA_HOME/eyla`, else `~/.local/share/eyla`."""
    if home := os.environ.get("EYLA_HOME"):
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "eyla"


class DecodingConfig(BaseModel):
    """Default decoding. Chosen by `benchmarks/decoding.py`: plain greedy decoding makes
    SmolLM2-135M loop ("I'm sorry. I'm sorry. ..."); a mild repetition penalty with
    low-temperature nucleus sampling does not."""

    max_new_tokens: int = Field(256, ge=1, le=4096)
    temperature: float = Field(0.3, ge=0.0, le=5.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.2, ge=1.0, le=3.0)
    seed: int | None = 0


class AgentConfig(BaseModel):
    """How `Agent.turn()` builds prompts and checks replies."""

    identity: Path | None = Field(None, description="identity spec file; None = data/identity")
    recall_k: int = Field(3, ge=0, le=50, description="memories quoted in each prompt")
    min_relevance: float = Field(
        0.35, ge=-1.0, le=1.0, description="cosine below which a memory is not quoted"
    )
    guard_retries: int = Field(1, ge=0, le=5, description="regenerations before repair")
    confidence_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="below it the reply hedges or says it does not know"
    )
    # A long session must not slow every turn: the prompt holds only the newest history.
    # benchmarks/long_session.py, 2 cores: with 1,024 tokens a turn in a 5,000-message
    # session took 1.26-1.39x a fresh session's (target 1.5x); 1,536 took 1.55x. At about
    # 5 tokens for the shortest message, 200 messages seldom bind before the tokens do.
    history_messages: int = Field(
        200, ge=1, le=10_000, description="newest messages of the session read for each prompt"
    )
    history_tokens: int = Field(
        1024,
        ge=0,
        le=65_536,
        description="tokens the session's messages take in a prompt at most; the newest "
        "message is kept whatever its length",
    )
    reuse_cache: bool = Field(
        True,
        description="keep the last turn's KV cache and prefill only what the next prompt adds",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EYLA_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default_factory=data_home)
    model: str = Field("embedded", description="'embedded', a HF model dir, or a .gguf file")
    dtype: Literal["auto", "float32", "bfloat16", "int4"] = "auto"
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=data_home() / "eyla.toml")
        return init_settings, env_settings, toml


def setting_source(field: str) -> str:
    """Where a top-level setting that differs from its default came from, for `eyla info`:
    'set by EYLA_DTYPE', 'set in <data dir>/eyla.toml', else 'set by the caller'."""
    variable = f"EYLA_{field.upper()}"
    if any(name.upper() == variable for name in os.environ):  # matched as pydantic does
        return f"set by {variable}"
    toml = data_home() / "eyla.toml"
    try:
        if field in tomllib.loads(toml.read_text(encoding="utf-8")):
            return f"set in {toml}"
    except (OSError, tomllib.TOMLDecodeError):
        pass
    return "set by the caller"


def read_settings() -> Settings:
    """`Settings()`, with a bad config file or variable reported as one line."""
    try:
        return Settings()
    except tomllib.TOMLDecodeError as exc:
        raise EylaError(f"{data_home() / 'eyla.toml'} is not valid TOML: {exc}") from exc
    except ValidationError as exc:
        where, what = first_problem(exc, "settings")
        raise EylaError(
            f"invalid setting {where!r} (eyla.toml or EYLA_* variables): {what}"
        ) from exc
