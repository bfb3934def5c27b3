"""Wrong answers to 05.lru: least-recently-used caches as they are first written."""

import itertools
from collections import OrderedDict

from minicluster.workbook import load
from minicluster.workbook.checks.stage05.lru import SlowLRU

_Solution = load("05.lru", tree="solutions")


class EvictsTheMostRecent(_Solution):
    def put(self, key, value):
        if key in self.entries:
            self.entries.move_to_end(key)
            self.entries[key] = value
            return None
        evicted = None
        if len(self.entries) >= self.capacity:
            evicted, _ = self.entries.popitem(last=True)
        self.entries[key] = value
        return evicted


class GetIsNotAUse(_Solution):
    """Only puts move an entry to the front: FIFO by last write."""

    def get(self, key, default=None):
        return self.entries.get(key, default)


class UpdateIsNotAUse(_Solution):
    def put(self, key, value):
        if key in self.entries:
            self.entries[key] = value
            return None
        return super().put(key, value)


class UpdateEvictsWhenFull(_Solution):
    """Evicts before looking whether the key is already there."""

    def put(self, key, value):
        evicted = None
        if len(self.entries) >= self.capacity:
            evicted, _ = self.entries.popitem(last=False)
        self.entries[key] = value
        self.entries.move_to_end(key)
        return evicted


class OneTooMany(_Solution):
    """Evicts only once the cache holds more than its capacity."""

    def put(self, key, value):
        if key in self.entries:
            return super().put(key, value)
        self.entries[key] = value
        if len(self.entries) > self.capacity + 1:
            return self.entries.popitem(last=False)[0]
        return None


class ListOfKeys(SlowLRU):
    """Right answers, with a list kept in order of use: every use is a scan (O(capacity))."""

    def __init__(self, capacity):
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(capacity)
        super().__init__(capacity)


class TimestampsAndMin:
    """Right answers, with a use counter per key: O(1) uses, but each eviction is a min() over every key."""

    def __init__(self, capacity):
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(capacity)
        self.capacity, self.values, self.used, self.clock = capacity, {}, {}, itertools.count()

    def get(self, key, default=None):
        if key not in self.values:
            return default
        self.used[key] = next(self.clock)
        return self.values[key]

    def put(self, key, value):
        evicted = None
        if key not in self.values and len(self.values) >= self.capacity:
            evicted = min(self.used, key=self.used.get)
            del self.values[evicted], self.used[evicted]
        self.values[key] = value
        self.used[key] = next(self.clock)
        return evicted

    def __len__(self):
        return len(self.values)


class StoredNoneIsAMiss(_Solution):
    def get(self, key, default=None):
        value = self.entries.get(key)
        if value is None:
            return default
        self.entries.move_to_end(key)
        return value


class ReturnsTheEvictedValue(_Solution):
    def put(self, key, value):
        if key in self.entries:
            return super().put(key, value)
        evicted = None
        if len(self.entries) >= self.capacity:
            _, evicted = self.entries.popitem(last=False)
        self.entries[key] = value
        return evicted


class AcceptsAnyCapacity(_Solution):
    def __init__(self, capacity):
        self.capacity = capacity
        self.entries = OrderedDict()


class GetStoresTheDefault(_Solution):
    def get(self, key, default=None):
        if key not in self.entries:
            self.put(key, default)
            return default
        return super().get(key, default)


MUTANTS = {
    cls.__name__: cls
    for cls in (
        EvictsTheMostRecent,
        GetIsNotAUse,
        UpdateIsNotAUse,
        UpdateEvictsWhenFull,
        OneTooMany,
        ListOfKeys,
        TimestampsAndMin,
        StoredNoneIsAMiss,
        ReturnsTheEvictedValue,
        AcceptsAnyCapacity,
        GetStoresTheDefault,
    )
}
