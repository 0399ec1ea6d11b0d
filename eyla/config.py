"""Settings: defaults < `eyla.toml` in the data dir < `EYLA_*` environment < CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EYLA_", env_nested_delimiter="__", extra="ignore"
    )

    home: Path = Field(default_factory=data_home)
    model: str = Field("embedded", description="'embedded', a HF model dir, or a .gguf file")
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)

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
