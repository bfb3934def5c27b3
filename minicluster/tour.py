"""``minicluster tour``: each ready stage's headline experiment, run headless, results printed.

The stages and their titles come from the stage grid (``info.toml``); each ready stage's module has a
``headline()`` returning its results as text.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .errors import ConfigError
from .workbook import catalog


def run(stages: Iterable[int] | None = None) -> int:
    ready = {s.number: s for s in catalog.stages() if s.ready}
    chosen = sorted(set(stages)) if stages else sorted(ready)
    unknown = [s for s in chosen if s not in ready]
    if unknown:
        raise ConfigError(f"no tour for stage {unknown[0]} yet (stages with a tour: {', '.join(map(str, ready))})")
    for number in chosen:
        stage = ready[number]
        started = time.perf_counter()
        print(f"== Stage {number}: {stage.title} ==")
        print(stage.import_module().headline())
        print(f"({time.perf_counter() - started:.1f} s)\n")
    return 0
