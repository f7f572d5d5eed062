"""How long a run takes to start: Trainer construction at the default size, and corpus building.

Targets (issue 2): Trainer(TrainConfig()) under 1 s (the first, with torch's start-up, printed apart); the toy
language at V = 50,257 well under 1 s; 1 MB of text (pydoc_data's prose) under 2 s. Run: python bench/build_speed.py"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydoc_data.topics import topics  # noqa: E402

from core import TrainConfig, Trainer  # noqa: E402
from core.corpus import _tokenize, build_corpus  # noqa: E402


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    first = timed(lambda: Trainer(TrainConfig()), 1)[0]
    again = statistics.median(timed(lambda: Trainer(TrainConfig(seed=1)), 9))
    toy = statistics.median(timed(lambda: build_corpus(50_257, seed=0, window=2), 3))
    prose = " ".join(topics.values())
    text = (prose * (1_000_000 // len(prose) + 1))[:1_000_000]

    def build_text() -> None:
        _tokenize.cache_clear()  # measure the tokenising too, not the memo
        build_corpus(10_000, seed=0, window=2, text=text)

    user_text = statistics.median(timed(build_text, 3))
    print(f"{'what':<48} {'seconds':>8} {'target':>8}")
    print(f"{'Trainer(TrainConfig()), first in the process':<48} {first:>8.3f} {'< 1':>8}")
    print(f"{'Trainer(TrainConfig()), median of 9 more':<48} {again:>8.4f} {'< 1':>8}")
    print(f"{'toy language, V = 50,257 (median of 3)':<48} {toy:>8.3f} {'< 1':>8}")
    print(f"{'1 MB of English text, V = 10,000 (median of 3)':<48} {user_text:>8.3f} {'< 2':>8}")


if __name__ == "__main__":
    main()
