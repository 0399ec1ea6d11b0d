"""The model worker: one thread that runs every turn, fed by a bounded queue.

One model cannot run two turns at once (the agent holds the current session, the model
its caches), and queuing without a bound would trade a busy server for one out of memory;
a full queue is refused at once so that clients can retry.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from eyla.agent import TurnResult
from eyla.config import DecodingConfig
from eyla.errors import EylaError
from eyla.server.conversations import Conversations, SessionKey, catch_up
from memory.schema import OWNER_ID
from models.generate import Message

log = logging.getLogger(__name__)


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the model is busy; retry in {retry_after} s")
        self.retry_after = retry_after


class WorkerStopped(Exception):
    """The server is shutting down."""


class TurnFailed(Exception):
    """A turn broke on something other than its input; the worker has logged why, and
    the client is told no more than that."""


def _ignore(_value: object) -> None:
    return None


@dataclass
class TurnJob:
    text: str
    session: SessionKey
    decoding: DecodingConfig
    # the client's user and assistant messages before `text`
    earlier: list[Message] = field(default_factory=list)
    # what the reply's extension lists as not used; the worker may add to it
    ignored: list[str] = field(default_factory=list)
    # whose conversation it is (auth.py): the turn sees that user's data alone
    user_id: int = OWNER_ID
    on_start: Callable[[int], None] = _ignore
    on_text: Callable[[str], None] = _ignore
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future[TurnResult] = field(default_factory=Future)


class ModelWorker:
    def __init__(self, conversations: Conversations, queue_size: int) -> None:
        self.conversations = conversations
        self._jobs: queue.Queue[TurnJob | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="eyla-model", daemon=True)
        self._current: TurnJob | None = None
        # guards `_stopped` against a submit racing stop(): no job may follow the sentinel
        self._lock = threading.Lock()
        self._stopped = False
        # a moving average of turn time, for Retry-After: a queue slot frees when a turn ends
        self._turn_seconds = 1.0

    @property
    def waiting(self) -> int:
        return self._jobs.qsize()

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: TurnJob) -> None:
        with self._lock:
            if self._stopped:
                raise WorkerStopped("the server is shutting down")
            try:
                self._jobs.put_nowait(job)
            except queue.Full:
                raise QueueFull(max(1, math.ceil(self._turn_seconds))) from None

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the running turn, fail the queued ones, and wait for the thread."""
        with self._lock:
            self._stopped = True
        if (current := self._current) is not None:
            current.cancel.set()
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.set_exception(WorkerStopped("the server is shutting down"))
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            # a client that left while its turn waited wants no reply
            if job.cancel.is_set() or not job.future.set_running_or_notify_cancel():
                job.future.cancel()
                continue
            self._current = job
            started = time.monotonic()
            try:
                job.future.set_result(self._turn(job))
            except EylaError as exc:
                job.future.set_exception(exc)
            except Exception:
                log.exception("turn failed")
                job.future.set_exception(TurnFailed("internal server error"))
            finally:
                self._current = None
            self._turn_seconds = 0.8 * self._turn_seconds + 0.2 * (time.monotonic() - started)

    def _turn(self, job: TurnJob) -> TurnResult:
        agent = self.conversations.open(job.session, job.user_id)
        try:
            job.on_start(agent.session_id)
            if not catch_up(agent, job.earlier):
                job.ignored.append("earlier messages")
            result = agent.turn(
                job.text, on_text=job.on_text, cancel=job.cancel, decoding=job.decoding
            )
        finally:
            # a server holds many users' agents: none keeps a turn's KV cache after it
            agent.conversation.forget()
            self.conversations.release(job.session, job.user_id)
        if result is None:
            raise EylaError("the last user message is empty")
        return result
