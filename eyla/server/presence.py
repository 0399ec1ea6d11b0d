"""The server file: how `eyla ask` finds an `eyla serve` already running on its data dir.

A server on loopback that keeps the data dir's memory writes `<data dir>/server.json`
(mode 0600) once it listens, and removes it as it shuts down. `eyla ask` reads it to send
its question to the warm model instead of loading one (eyla/resident.py), as local model
runners do. A file left by a server that died (killed, power cut) names a process that no
longer exists, or an address nobody answers on: either way it is ignored, and the next
server overwrites it.

Kept free of heavy imports: the client reads it on the path that must start fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eyla.server.bind import is_loopback

if TYPE_CHECKING:
    from eyla.config import Settings

FILE_NAME = "server.json"
# decoding settings a chat request carries itself (eyla/resident.py sends them), so a
# client may differ from the server in these and still be answered as in its own process
REQUEST_DECODING = frozenset({"max_new_tokens", "temperature", "top_p", "seed"})


@dataclass(frozen=True)
class Presence:
    pid: int
    host: str
    port: int
    # `settings_digest` of the server's settings: a client whose own differ would get
    # answers its in-process turn would not give
    settings: str
    # the owner's key file (`--api-key-file`), so that `eyla ask` can send the key without
    # the user repeating it; never the key itself
    key_file: str | None = None


def server_file(home: Path) -> Path:
    return home / FILE_NAME


def settings_digest(settings: Settings) -> str:
    """A digest of every setting that shapes a turn, except the data dir (the file's
    place says it) and the decoding fields a request carries."""
    shaping = settings.model_dump(
        mode="json", exclude={"home": True, "decoding": set(REQUEST_DECODING)}
    )
    # a model path typed relative to another working directory is still the same model
    if shaping["model"] != "embedded":
        shaping["model"] = str(Path(shaping["model"]).expanduser().resolve())
    text = json.dumps(shaping, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def publish(home: Path, presence: Presence) -> Path:
    """Write the server file atomically, readable by its owner alone: it says where the
    owner's server listens and where their key is kept."""
    path = server_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{FILE_NAME}.{presence.pid}")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(asdict(presence), fh)
    os.replace(partial, path)
    return path


def withdraw(home: Path, pid: int | None = None) -> None:
    """Remove the server file if process `pid` (default: this one) wrote it: a second
    server on the same data dir may have replaced it, and its file stays."""
    path = server_file(home)
    found = _read(path)
    if found is not None and found.pid == (os.getpid() if pid is None else pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def find(home: Path) -> Presence | None:
    """The running server the file names, or None: no file, one that is not this user's
    alone, one naming an address off loopback, or one whose process is gone. (A live
    process that does not answer is found out when the client connects.)"""
    path = server_file(home)
    try:
        info = path.stat()
    except OSError:
        return None
    # the client sends the owner's key where the file points: only a file that nobody
    # else could have written or changed is believed
    if os.name == "posix" and (info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077):
        return None
    found = _read(path)
    if found is None or not is_loopback(found.host) or not _alive(found.pid):
        return None
    return found


def _read(path: Path) -> Presence | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = Presence(**data)
    except (OSError, ValueError, TypeError):
        return None
    valid = (
        isinstance(found.pid, int)
        and isinstance(found.host, str)
        and isinstance(found.port, int)
        and 0 < found.port < 65536
        and isinstance(found.settings, str)
        and (found.key_file is None or isinstance(found.key_file, str))
    )
    return found if valid else None


def _alive(pid: int) -> bool:
    """Whether `pid` is a process of this user's: signal 0 checks without signalling, and
    is refused for another user's process, which is not the server this user started."""
    if pid <= 0:
        return False
    if os.name != "posix":
        return True  # Windows' os.kill ends the process; a dead server refuses connections
    try:
        os.kill(pid, 0)
    except OSError:  # ProcessLookupError: gone; PermissionError: someone else's
        return False
    return True
