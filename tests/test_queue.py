"""The message queue: delivery, acks, redelivery after the visibility timeout, dead letters, bounds."""

import threading

import pytest

from minicluster.cache import CacheNode
from minicluster.clock import ManualClock
from minicluster.errors import ConfigError
from minicluster.queue import QueueFull, StreamQueue, WorkerCrash, WorkerPool


def queue(**options):
    options.setdefault("visibility_timeout", 0.05)
    return StreamQueue(CacheNode("mq").client(), "jobs", **options)


def test_a_message_is_delivered_once_and_leaves_the_queue_when_acknowledged():
    q = queue()
    q.put({"photo": "a.jpg"})
    (message,) = q.get("w1")
    assert message.payload == {"photo": "a.jpg"} and message.deliveries == 1
    assert q.get("w2", block=0.01) == [], "delivered, not yet acknowledged, not past its timeout: nobody else gets it"
    assert q.depth() == 1
    q.ack(message)
    assert q.depth() == 0


def test_an_unacknowledged_message_comes_back_after_the_visibility_timeout():
    q = queue(visibility_timeout=0.05)
    q.put({"photo": "a.jpg"})
    (first,) = q.get("w1")
    returned = threading.Event()
    deliveries = []

    def poll():
        while not returned.is_set():
            got = q.get("w2", block=0.02)
            if got:
                deliveries.extend(got)
                returned.set()

    thread = threading.Thread(target=poll)
    thread.start()
    assert returned.wait(5)
    thread.join()
    assert deliveries[0].id == first.id and deliveries[0].deliveries == 2


def test_a_message_past_max_deliveries_is_dead_lettered():
    q = queue(visibility_timeout=0.02, max_deliveries=2)
    q.put({"photo": "broken.jpg"})
    seen = []
    while q.depth():
        seen += [m.deliveries for m in q.get("w1", block=0.02)]
    assert seen == [1, 2] and q.dead_letters() == [{"photo": "broken.jpg"}]


def test_a_full_queue_refuses_producers_after_their_timeout():
    clock = ManualClock()
    q = StreamQueue(CacheNode("mq").client(), "jobs", max_length=2, clock=clock)
    q.put({"n": 1})
    q.put({"n": 2})
    with pytest.raises(QueueFull, match="queue 'jobs' holds 2 messages"):
        q.put({"n": 3}, timeout=1.0)  # the manual clock's sleep moves time on: no real wait
    assert q.refused == 1 and q.depth() == 2


def test_a_worker_pool_processes_retries_and_replaces_a_crashed_worker():
    q = queue(visibility_timeout=0.05, max_deliveries=3)
    for n in range(10):
        q.put({"n": n})
    done, crashed = [], threading.Event()
    finished = threading.Event()

    def handle(message):
        if message.payload["n"] == 4 and not crashed.is_set():
            crashed.set()
            raise WorkerCrash()
        done.append(message.payload["n"])
        if len(done) == 10:
            finished.set()

    pool = WorkerPool(q, handle, workers=2)
    assert finished.wait(10)
    pool.stop()
    assert sorted(done) == list(range(10)) and pool.crashes == 1 and q.depth() == 0


def test_resizing_a_pool_and_bad_input():
    q = queue()
    pool = WorkerPool(q, lambda m: None, workers=1)
    pool.resize(3)
    assert pool.size == 3
    pool.resize(1)
    assert pool.size == 1
    pool.stop()
    with pytest.raises(ConfigError, match="a message's payload is a dict"):
        q.put("photo")
    with pytest.raises(ConfigError, match="visibility_timeout must be a number > 0"):
        queue(visibility_timeout=0)
