"""Stage 8: a message queue between the web tier and the workers — asynchronous processing.

The notes' example: users upload photos; making thumbnails takes a while, so the web server puts a
job on a queue and answers at once; a pool of workers takes jobs off the queue. Producers and
consumers then scale apart, and a burst waits in the queue instead of timing out. The experiments,
on a Redis stream (:mod:`minicluster.queue`) and real worker threads:

* **bursts**: queue depth over time with a fixed pool of workers and with workers scaled by depth;
* **a worker dies mid-job**: the job comes back after the visibility timeout, and its effect is applied
  twice, unless the consumer is idempotent;
* **a poison message**: tried a few times, then moved to the dead-letter queue;
* **back-pressure**: a long burst into an unbounded queue against a bounded one (depth and waiting);
* **tiers scaled apart**: more workers, more jobs per second, whatever the producers do.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from ..cache import CacheNode
from ..cluster import Cluster
from ..experiment import Run, Topology
from ..queue import Message, QueueFull, StreamQueue, WorkerCrash, WorkerNode, WorkerPool, apply_once
from ..web import Response, Router, WebServer

#: A thumbnail takes this long to make.
JOB_TIME = 0.02


@dataclass
class Queued(Topology):
    web: WebServer
    broker: CacheNode
    queue: StreamQueue
    pool: WorkerPool


def build(cluster: Cluster, *, workers: int = 2, visibility_timeout: float = 1.0) -> Queued:
    """A web server ``web`` taking uploads (``POST /photos``) and queueing a job for each on the broker
    ``queue`` (a Redis stream, host ``mq1``), and ``workers`` worker threads making thumbnails."""
    broker = cluster.add_cache("queue", host="mq1")
    queue = StreamQueue(broker.client(), "photos", visibility_timeout=visibility_timeout)

    def upload(request, ctx) -> Response:
        job = queue.put({"photo": request.body or "photo.jpg"})
        return Response.json({"queued": job}, 202)

    web = cluster.add_web_server("web", Router().route("POST", "/photos", upload), host="app1")
    cluster.expose("api.mysite.com", web)
    pool = WorkerPool(queue, lambda message: time.sleep(JOB_TIME), workers=workers, name="thumbnailer")
    # The workers are threads, drawn as one node of their own host: what they take is the queue's.
    cluster._add(WorkerNode("thumbnailers", host="workers1", workers=workers))
    cluster.links += [
        ("web", "queue", "XADD: a job per upload"),
        ("queue", "thumbnailers", "jobs, acknowledged when done"),
    ]
    cluster.on_close(pool.stop)
    return Queued(cluster, web, broker, queue, pool)


def _queue(visibility_timeout: float = 0.3, **options) -> StreamQueue:
    return StreamQueue(CacheNode("queue").client(), "photos", visibility_timeout=visibility_timeout, **options)


def _sampler(queue: StreamQueue, pool: WorkerPool | None, every: float, samples: list, stop: threading.Event):
    started = time.perf_counter()

    def run() -> None:
        while not stop.wait(every):
            samples.append((time.perf_counter() - started, queue.depth(), pool.size if pool else 0))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# -- bursts -----------------------------------------------------------------------------------------


def bursts(
    *, bursts: int = 2, size: int = 150, every: float = 1.0, fixed: int = 2, per_worker: int = 20, most: int = 8
) -> Run:
    """``bursts`` bursts of ``size`` uploads, ``every`` seconds apart; each thumbnail takes 20 ms. Workers:
    a fixed pool of ``fixed``, or a pool resized every 0.1 s to one worker per ``per_worker`` jobs waiting
    (1 to ``most``). Rows every 0.2 s: the queue depth (and workers) for each. Figures per pool: the
    deepest queue, the seconds until it was empty, and the longest wait of a job (upload to done)."""
    series, figures = {}, {}
    for name in ("fixed", "scaled by depth"):
        samples, waits, drained = _burst_run(name == "scaled by depth", bursts, size, every, fixed, per_worker, most)
        series[name] = samples
        figures[name] = {
            "deepest": max(d for _, d, _ in samples),
            "drained after s": drained,
            "longest wait s": max(waits),
        }
    length = min(len(s) for s in series.values())
    rows = []
    for i in range(0, length, 2):
        row = {"t s": round(series["fixed"][i][0], 1)}
        for name, samples in series.items():
            row[f"depth, {name}"] = samples[i][1]
            row[f"workers, {name}"] = samples[i][2]
        rows.append(row)
    title = f"{bursts} bursts of {size} uploads, {JOB_TIME * 1000:g} ms a thumbnail"
    axes = {"x": "t s", "panels": [[f"depth, {n}" for n in series], [f"workers, {n}" for n in series]]}
    return Run(title, rows, figures=figures, chart="panels", axes=axes)


def _burst_run(scaled: bool, bursts: int, size: int, every: float, fixed: int, per_worker: int, most: int):
    queue = _queue()
    waits: list[float] = []
    lock = threading.Lock()

    def make_thumbnail(message: Message) -> None:
        time.sleep(JOB_TIME)
        with lock:
            waits.append(time.perf_counter() - message.payload["at"])

    pool = WorkerPool(queue, make_thumbnail, workers=fixed)
    samples: list = []
    stop = threading.Event()
    sampler = _sampler(queue, pool, 0.1, samples, stop)
    started = time.perf_counter()
    total = bursts * size
    for b in range(bursts):
        target = started + b * every
        time.sleep(max(0.0, target - time.perf_counter()))  # the producers' schedule: a burst each second
        for i in range(size):
            queue.put({"photo": f"p{b}-{i}", "at": time.perf_counter()})
        while scaled and time.perf_counter() < target + every:
            pool.resize(max(1, min(most, math.ceil(queue.depth() / per_worker))))
            time.sleep(0.1)  # the scaler's own period
    while len(waits) < total and time.perf_counter() - started < 30:
        if scaled:
            pool.resize(max(1, min(most, math.ceil(queue.depth() / per_worker))))
        time.sleep(0.05)
    drained = time.perf_counter() - started
    stop.set()
    sampler.join()
    pool.stop()
    return samples, waits, drained


# -- a worker dies, a poison message ------------------------------------------------------------------


def crash_mid_job(*, jobs: int = 50, crash_on: tuple[int, ...] = (7, 19, 33), visibility_timeout: float = 0.2) -> Run:
    """``jobs`` uploads, each adding its photo's size to its user's storage total. The workers handling
    jobs ``crash_on`` die right after applying the effect, before acknowledging. Per consumer: the
    storage counted against the truth, and how long until the queue was empty.

    * naive: add the size, then ack;
    * idempotent: add the size and mark the job done in one transaction, skip a job already marked."""
    rows = []
    for name in ("naive", "idempotent"):
        counted, truth, drained, redelivered = _crash_run(name == "idempotent", jobs, crash_on, visibility_timeout)
        rows.append(
            {
                "consumer": name,
                "jobs": jobs,
                "redelivered": redelivered,
                "bytes counted": counted,
                "bytes uploaded": truth,
                "double-counted": counted - truth,
            }
        )
    return Run("Workers die between the effect and the ack", rows, chart="bars",
               axes={"x": "consumer", "y": ["double-counted"]})  # fmt: skip


def _crash_run(idempotent: bool, jobs: int, crash_on, visibility_timeout: float):
    node = CacheNode("queue")
    redis = node.client()
    queue = StreamQueue(redis, "photos", visibility_timeout=visibility_timeout)
    for job in range(jobs):
        queue.put({"job": job, "user": f"u{job % 5}", "bytes": 1000 + job})
    crashes = set(crash_on)
    lock = threading.Lock()

    def handle(message: Message) -> None:
        p = message.payload
        if idempotent:
            apply_once(redis, f"done:{p['job']}", lambda pipe: pipe.hincrby("storage", p["user"], p["bytes"]))
        else:
            redis.hincrby("storage", p["user"], p["bytes"])
        with lock:
            crash = p["job"] in crashes
            crashes.discard(p["job"])
        if crash:
            raise WorkerCrash()

    started = time.perf_counter()
    pool = WorkerPool(queue, handle, workers=3)
    while queue.depth() and time.perf_counter() - started < 10:
        time.sleep(0.02)
    pool.stop()
    counted = sum(int(v) for v in redis.hgetall("storage").values())
    return counted, sum(1000 + j for j in range(jobs)), time.perf_counter() - started, pool.crashes


def poison(*, jobs: int = 20, bad: int = 7, max_deliveries: int = 3, visibility_timeout: float = 0.1) -> Run:
    """``jobs`` photos, one of them (``bad``) a file that makes the thumbnailer raise, every time. Rows:
    photos done, failed attempts, and what is in the dead-letter queue."""
    queue = _queue(visibility_timeout, max_deliveries=max_deliveries)
    for job in range(jobs):
        queue.put({"job": job, "photo": "broken.jpg" if job == bad else f"p{job}.jpg"})
    done = []

    def handle(message: Message) -> None:
        if message.payload["photo"] == "broken.jpg":
            raise ValueError("cannot decode broken.jpg")
        done.append(message.payload["job"])

    pool = WorkerPool(queue, handle, workers=2)
    started = time.perf_counter()
    while queue.depth() and time.perf_counter() - started < 10:
        time.sleep(0.02)
    pool.stop()
    dead = queue.dead_letters()
    rows = [{"photos": jobs, "done": len(done), "failed attempts": pool.failures, "dead letters": len(dead),
             "left in the queue": queue.depth()}]  # fmt: skip
    return Run(f"A poison message, at most {max_deliveries} deliveries", rows, figures={"dead": dead})


# -- back-pressure, tiers ---------------------------------------------------------------------------


def backpressure(*, rate: float = 300, seconds: float = 1.0, workers: int = 2, bound: int = 50) -> Run:
    """Producers upload at ``rate`` per second for ``seconds`` while ``workers`` workers (50 thumbnails/s
    each) keep up with only a third of it; the queue unbounded, then bounded at ``bound`` (a producer
    refused when full tells its user "try again later"). Rows: uploads accepted and refused, the deepest
    queue, and the longest wait of an accepted job."""
    rows = []
    for name, limit in (("unbounded", None), (f"bounded at {bound}", bound)):
        queue = _queue(max_length=limit)
        waits: list[float] = []

        def make_thumbnail(message: Message, waits=waits) -> None:
            time.sleep(JOB_TIME)
            waits.append(time.perf_counter() - message.payload["at"])

        pool = WorkerPool(queue, make_thumbnail, workers=workers)
        accepted = refused = deepest = 0
        started = time.perf_counter()
        for i in range(round(rate * seconds)):
            time.sleep(max(0.0, started + i / rate - time.perf_counter()))
            try:
                queue.put({"photo": i, "at": time.perf_counter()})
                accepted += 1
            except QueueFull:
                refused += 1
            deepest = max(deepest, queue.depth())
        while len(waits) < accepted and time.perf_counter() - started < 30:
            time.sleep(0.02)
        pool.stop()
        rows.append({"queue": name, "accepted": accepted, "refused": refused, "deepest": deepest,
                     "longest wait s": max(waits)})  # fmt: skip
    return Run(f"A long burst: {rate:g} uploads/s, workers for a third of it", rows, chart="bars",
               axes={"x": "queue", "y": ["deepest"]})  # fmt: skip


def tiers(workers: tuple[int, ...] = (1, 2, 4, 8), *, jobs: int = 100) -> Run:
    """The same ``jobs`` uploads, queued at once by the producers, drained by 1, 2, 4, 8 workers. Rows:
    jobs per second done (the consumer tier alone decides it)."""
    rows = []
    for n in workers:
        queue = _queue()
        for i in range(jobs):
            queue.put({"photo": i})
        pool = WorkerPool(queue, lambda message: time.sleep(JOB_TIME), workers=n)
        started = time.perf_counter()
        while queue.depth() and time.perf_counter() - started < 30:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        pool.stop()
        rows.append({"workers": n, "jobs/s": jobs / elapsed, "ceiling": n / JOB_TIME})
    return Run(f"{jobs} queued jobs, drained by more and more workers", rows, chart="lines",
               axes={"x": "workers", "y": ["jobs/s", "ceiling"], "ylabel": "jobs per second"})  # fmt: skip


def headline() -> str:
    """For ``minicluster tour``: a worker dying mid-job, naive against idempotent; a poison message."""
    return f"{crash_mid_job()}\n\n{poison()}"
