"""A writer process for the crash and concurrency tests.

    python -m tests.memory.writer HOME PREFIX COUNT [SHARED]

Opens the store, prints "ready" and waits for a line on stdin, so that several writers
start adding at the same moment. Then adds COUNT items "PREFIX item i ..." (and, every third
item, a fact shared with other writers) and prints "committed TEXT" after each add returns,
so the parent knows exactly what was committed when it kills this process.
"""

from __future__ import annotations

import sys
from pathlib import Path

from memory.config import MemoryConfig, RetrievalWeights
from memory.store import MemoryStore
from tests.fakes import HashingEmbedder

# Saving the index every few changes puts saves in the path of the kill.
CONFIG = MemoryConfig(
    index_save_every=5,
    weights=RetrievalWeights(relevance=1.0, recency=0.0, importance=0.0),
)


def item_text(prefix: str, i: int) -> str:
    return f"{prefix} item {i} remembers colour {i * 7 % 11} and number {i * 13 % 17}"


def shared_text(i: int) -> str:
    return f"shared fact {i} told by several writers"


def main(home: Path, prefix: str, count: int, shared: bool) -> None:
    store = MemoryStore.open(home, CONFIG, HashingEmbedder())
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        texts = [item_text(prefix, i)]
        if shared and i % 3 == 0:
            texts.append(shared_text(i))
        for text in texts:
            store.add(text, "user_said")
            print(f"committed {text}", flush=True)
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), len(sys.argv) > 4)
