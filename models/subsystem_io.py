"""Save and load a set of trained subsystems: safetensors weights plus a JSON manifest.

The manifest records every subsystem's name, kind, placement and hyper-parameters, and
the fingerprint of the base model it was trained on; loading it onto any other base is an
error, since adapters trained for one model's activations are noise to another's.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import safetensors.torch

from eyla.errors import EylaError
from eyla.identity import SystemPrompt
from models.adapter import Adapter
from models.loading import BaseModel
from models.prefix import IdentityPrefix
from models.ssm import SSMSidecar
from models.subsystem import NeuralSubsystem
from models.uncertainty import UncertaintyHead

MANIFEST = "subsystems.json"
WEIGHTS = "subsystems.safetensors"
FORMAT = 1
KINDS: dict[str, type[NeuralSubsystem]] = {
    cls.kind: cls for cls in (Adapter, IdentityPrefix, SSMSidecar, UncertaintyHead)
}

log = logging.getLogger(__name__)


def save_subsystems(
    subsystems: Sequence[NeuralSubsystem],
    base: BaseModel,
    directory: Path,
    system_prompt: SystemPrompt = "spec",
) -> None:
    """Write `subsystems` (trained on `base`, to run under `system_prompt`) to `directory`,
    replacing any earlier set."""
    manifest = {
        "format": FORMAT,
        "system_prompt": system_prompt,
        "base": {
            "fingerprint": base.fingerprint,
            "source": base.source.name,
            "model_type": base.model.config.model_type,
            "num_hidden_layers": base.model.config.num_hidden_layers,
            "hidden_size": base.model.config.hidden_size,
        },
        "subsystems": [
            {"name": sub.name, "kind": sub.kind, "config": sub.config()} for sub in subsystems
        ],
    }
    tensors = {
        f"{sub.name}.{key}": value.detach().contiguous()
        for sub in subsystems
        for key, value in sub.state_dict().items()
    }
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomic(directory / WEIGHTS, safetensors.torch.save(tensors))
    # the manifest goes last: a directory with a manifest always has its weights
    _write_atomic(directory / MANIFEST, json.dumps(manifest, indent=2).encode())


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        fingerprint = manifest["base"]["fingerprint"]
        entries = manifest["subsystems"]
    except FileNotFoundError:
        raise EylaError(f"no saved subsystems in {directory} (missing {MANIFEST})") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EylaError(f"corrupt subsystem manifest {path}: {exc}") from exc
    if manifest.get("format") != FORMAT or not isinstance(fingerprint, str):
        raise EylaError(f"unsupported subsystem manifest {path} (format {manifest.get('format')})")
    if not isinstance(entries, list):
        raise EylaError(f"corrupt subsystem manifest {path}: 'subsystems' is not a list")
    return manifest


def saved_system_prompt(directory: Path) -> SystemPrompt:
    """What the set in `directory` runs under (sets saved before this was recorded: the
    whole spec)."""
    return "brief" if read_manifest(directory).get("system_prompt") == "brief" else "spec"


def load_subsystems(base: BaseModel, directory: Path) -> list[NeuralSubsystem]:
    """Rebuild the subsystems saved in `directory` for `base`, unattached."""
    manifest = read_manifest(directory)
    saved = manifest["base"]
    if saved["fingerprint"] != base.fingerprint:
        raise EylaError(
            f"subsystems in {directory} were trained on base model "
            f"{saved.get('source', '?')} (fingerprint {saved['fingerprint'][:16]}), but the "
            f"loaded base is {base.source.name} (fingerprint {base.fingerprint[:16]}); "
            "load them onto the model they were trained on"
        )
    try:
        tensors = safetensors.torch.load_file(directory / WEIGHTS)
    except Exception as exc:  # safetensors raises its own error type for a bad file
        raise EylaError(f"cannot read subsystem weights in {directory}: {exc}") from exc
    subsystems = [_rebuild(base, entry, tensors, directory) for entry in manifest["subsystems"]]
    names = {sub.name for sub in subsystems}
    if strays := sorted({key.split(".", 1)[0] for key in tensors} - names):
        raise EylaError(f"{directory / WEIGHTS} holds weights of unknown subsystems: {strays}")
    return subsystems


def find_saved_set(weights_dir: Path, fingerprint: str) -> Path | None:
    """The directory under `weights_dir` (itself or a child) holding a set for this base."""
    if not weights_dir.is_dir():
        return None
    candidates = [weights_dir, *sorted(p for p in weights_dir.iterdir() if p.is_dir())]
    for directory in candidates:
        if not (directory / MANIFEST).is_file():
            continue
        try:
            if read_manifest(directory)["base"]["fingerprint"] == fingerprint:
                return directory
        except EylaError as exc:
            log.warning("skipping saved subsystems: %s", exc)
    return None


def _rebuild(
    base: BaseModel, entry: dict[str, Any], tensors: dict[str, Any], directory: Path
) -> NeuralSubsystem:
    kind, name = entry.get("kind"), entry.get("name")
    cls = KINDS.get(str(kind))
    if cls is None:
        raise EylaError(f"unknown subsystem kind {kind!r} in {directory / MANIFEST}")
    try:
        subsystem = cls(base, name=name, **entry.get("config", {}))
    except TypeError as exc:
        raise EylaError(f"bad config for subsystem {name!r} in {directory}: {exc}") from exc
    own = {
        key.split(".", 1)[1]: value
        for key, value in tensors.items()
        if key.split(".", 1)[0] == name
    }
    try:
        subsystem.load_state_dict(own, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise EylaError(
            f"weights for subsystem {name!r} in {directory} do not fit: {first}"
        ) from exc
    return subsystem


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
