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
        self._rule_on_concrete_keys(ring_class)
        self._same_in_another_process(ring_class, before)
        return [
            "20,000 keys spread within 1.5x over 4 nodes, whatever order the nodes were added in",
            "adding a 5th node moves about 1/5 of the keys, all of them to the new node",
            "removing a node moves only its own keys",
            "with 3 nodes at 3 points each, every key (one exactly on a point, some past the largest) goes to "
            "the first point at or after it, clockwise",
            "the same owners in a fresh Python process (no hash() salt); LookupError on an empty ring",
        ]

    def _rule_on_concrete_keys(self, ring_class) -> None:
        """The statement's rule, key by key, on a ring small enough to compute by hand: 3 nodes at 3
        points each (from the learner's own ``position()``). The keys include each point's own string
        (a key exactly on a point belongs to it: "at or after"), and keys past the largest point and
        before the smallest (both wrap to the smallest)."""
        position = (getattr(ring_class, "__init__", None) and getattr(ring_class.__init__, "__globals__", {})).get(
            "position"
        )
        if not callable(position):
            raise Failure(
                "keep the module's position(value) function (the stub declares it): the check uses it to work "
                "out where each key and point sits on the ring"
            )
        nodes = ["shard-a", "shard-b", "shard-c"]
        points = sorted(
            (self.call(position, f"{node}#{i}", on=f"position('{node}#{i}')"), node) for node in nodes for i in range(3)
        )
        ring = self.call(ring_class, nodes, 3, on="HashRing(['shard-a', 'shard-b', 'shard-c'], vnodes=3)")
        on_points = [f"{node}#{i}" for node in nodes for i in range(3)]
        keys = on_points + [f"user:{k}" for k in range(300)] + list(range(300))
        where = {k: self.call(position, k, on=f"position({k!r})") for k in keys}
        past = [k for k in keys if where[k] > points[-1][0]]
        before = [k for k in keys if where[k] < points[0][0]]

        def owner(key):
            return next((node for at, node in points if at >= where[key]), points[0][1])

        def lookups():
            return {k: ring.lookup(k) for k in keys}

        got = self.call(lookups, on=f"{len(keys)} lookups on HashRing(3 nodes, vnodes=3)")
        for key in on_points + past[:20] + before[:20] + keys:
            if got[key] == owner(key):
                continue
            after = next((i for i, (at, _) in enumerate(points) if at >= where[key]), None)
            if key in on_points:
                why = "it sits exactly on one of that node's points; a key belongs to the first point at or after it"
            elif after is None:
                why = "it is past the largest point, so it wraps around to the smallest one"
            else:
                prev = points[after - 1] if after else points[-1]
                why = (
                    f"the first point clockwise from it is {points[after][1]}'s at {points[after][0]} "
                    f"(the one before is {prev[1]}'s at {prev[0]})"
                )
            raise Failure(
                f"HashRing(['shard-a', 'shard-b', 'shard-c'], vnodes=3).lookup({key!r}) returned {got[key]!r}; "
                f"position({key!r}) is {where[key]} and it belongs to {owner(key)!r}: {why}. "
                f"The ring's 9 points, smallest first: {', '.join(f'{n}@{at}' for at, n in points)}"
            )

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
