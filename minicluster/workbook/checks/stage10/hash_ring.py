"""Checker of ``10.hash_ring``: consistent hashing with virtual nodes."""

from __future__ import annotations

import json
from collections import Counter

from ..base import Checker, Failure, NotAttempted, describe


class HashRingCheck(Checker):
    """``HashRing``: balanced, ~1/(N+1) moved on add, only the removed node's keys move, deterministic."""

    exercise_id = "10.hash_ring"
    keys = range(20_000)

    def verify(self, ring_class) -> list[str]:
        if not callable(ring_class):
            raise Failure(f"expected the class HashRing, got {describe(ring_class)}")
        nodes = ["shard-a", "shard-b", "shard-c", "shard-d"]
        ring = self.call(ring_class, nodes, 100, on="HashRing(4 nodes, vnodes=100)")
        before = self._owners(ring, "HashRing(4 nodes)")
        counts = Counter(before.values())
        if set(counts) != set(nodes):
            raise Failure(f"20,000 keys went to {sorted(counts)}; every one of the 4 nodes should own some")
        if max(counts.values()) > 1.5 * min(counts.values()):
            raise Failure(
                f"with 100 virtual nodes each, the busiest node owns {max(counts.values())} of 20,000 keys and the "
                f"least busy {min(counts.values())}; are all vnodes placed on the ring?"
            )
        reordered = self.call(ring_class, nodes[::-1], 100, on="HashRing(the same 4 nodes in another order)")
        if self._owners(reordered, "HashRing(reordered)") != before:
            raise Failure(
                "two rings with the same nodes, added in another order, disagree; a key's owner must "
                "depend only on the nodes, not on the order they were added"
            )
        self.call(ring.add, "shard-e", on="add('shard-e')")
        grown = self._owners(ring, "after add('shard-e')")
        moved = [k for k in self.keys if grown[k] != before[k]]
        if any(grown[k] != "shard-e" for k in moved):
            raise Failure(
                "after add('shard-e'), some keys moved between the old nodes; they should only move to the new one"
            )
        if not 0.1 <= len(moved) / len(before) <= 0.3:
            raise Failure(
                f"adding a 5th node moved {len(moved) / len(before):.0%} of the keys; consistent hashing moves about "
                "1/5 (hash % N would move 80%)"
            )
        self.call(ring.remove, "shard-b", on="remove('shard-b')")
        shrunk = self._owners(ring, "after remove('shard-b')")
        wrong = [k for k in self.keys if (grown[k] == "shard-b") != (shrunk[k] != grown[k]) or shrunk[k] == "shard-b"]
        if wrong:
            k = wrong[0]
            raise Failure(
                f"after remove('shard-b'), key {k} went from {grown[k]} to {shrunk[k]}; only shard-b's keys "
                "should move, and none may stay on it"
            )
        empty = self.call(ring_class, [], 100, on="HashRing([])")
        try:
            got = empty.lookup("anything")
        except NotImplementedError:
            raise NotAttempted() from None
        except LookupError:
            got = None
        except Exception as exc:
            raise Failure(f"lookup on an empty ring raised {type(exc).__name__}; raise LookupError") from None
        else:
            raise Failure(f"lookup on an empty ring returned {describe(got)}; raise LookupError")
        self._same_in_another_process(ring_class, before)
        return [
            "20,000 keys spread within 1.5x over 4 nodes, whatever order the nodes were added in",
            "adding a 5th node moves about 1/5 of the keys, all of them to the new node",
            "removing a node moves only its own keys",
            "the same owners in a fresh Python process (no hash() salt); LookupError on an empty ring",
        ]

    def _owners(self, ring, on):
        def lookups():
            return {k: ring.lookup(k) for k in self.keys}

        return self.call(lookups, on=f"{on}: lookup of 20,000 keys")

    def _same_in_another_process(self, ring_class, before) -> None:
        import os
        import subprocess
        import sys

        # The file the class's own methods were compiled from: a learner file loaded by the workbook is not
        # in sys.modules, so inspect.getsourcefile cannot find it by module name.
        files = {f.__code__.co_filename for f in vars(ring_class).values() if hasattr(f, "__code__")}
        source = next(iter(files)) if len(files) == 1 else None
        if not source or not os.path.isfile(source) or "ipykernel_" in source:
            raise Failure(
                "your HashRing must give the same owners in a fresh Python process, and that can only be checked "
                "for a class in a file: write it in exercises/10_sharding/hash_ring.py and run check('10.hash_ring')"
            )
        script = (
            "import importlib.util, json, sys\n"
            "spec = importlib.util.spec_from_file_location('ring', sys.argv[1])\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            f"r = getattr(m, {ring_class.__name__!r})(['shard-a', 'shard-b', 'shard-c', 'shard-d'], 100)\n"
            "print(json.dumps([r.lookup(k) for k in range(0, 20000, 97)]))\n"
        )
        expected = [before[k] for k in range(0, 20000, 97)]
        for salt in ("1", "2"):
            env = {**os.environ, "PYTHONHASHSEED": salt}
            done = subprocess.run(
                [sys.executable, "-c", script, source], capture_output=True, text=True, timeout=60, env=env, check=False
            )
            if done.returncode != 0 or json.loads(done.stdout or "null") != expected:
                raise Failure(
                    "a fresh Python process puts the same keys on other nodes: positions must come from a stable "
                    "hash (hashlib), not hash(), whose strings are salted per process"
                )
