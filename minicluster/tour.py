"""``minicluster tour``: each finished stage's headline experiment, run headless, results printed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from .errors import ConfigError
from .stages import load_balancer, sharding, single_server, web_db_split

#: stage number -> (title, a function returning the stage's results as text)
STAGES: dict[int, tuple[str, Callable[[], str]]] = {
    1: ("Single server", single_server.headline),
    2: ("Web tier and database apart", web_db_split.headline),
    3: ("Load balancer", load_balancer.headline),
    10: ("Sharding and the global feed", sharding.headline),
}


def run(stages: Iterable[int] | None = None) -> int:
    chosen = sorted(set(stages)) if stages else sorted(STAGES)
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        raise ConfigError(f"no tour for stage {unknown[0]} yet (stages with a tour: {', '.join(map(str, STAGES))})")
    for number in chosen:
        title, headline = STAGES[number]
        started = time.perf_counter()
        print(f"== Stage {number}: {title} ==")
        print(headline())
        print(f"({time.perf_counter() - started:.1f} s)\n")
    return 0
