"""The history table: one row per add / update / forget of an episode."""

from __future__ import annotations

import json
from typing import Literal

from sqlalchemy.orm import Session

from memory.schema import HistoryRow

Action = Literal["add", "update", "forget"]


def record(session: Session, episode_id: int, action: Action, **detail: object) -> None:
    """`detail` holds what changed, e.g. importance=[old, new]; the index cache reads
    embedding_model to know vectors were replaced."""
    session.add(
        HistoryRow(episode_id=episode_id, action=action, detail=json.dumps(detail, default=str))
    )
