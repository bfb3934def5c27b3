"""Checker of ``10.validate``: a learner's validator, graded against a correct paginator and the mutants."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from concurrent.futures.thread import _worker as _pool_worker

from ....cluster import Cluster
from ....posts import PostsSpec, ShardedPosts, generate
from ....sharding import DirectoryRouter, ModuloRouter
from ... import catalog, trees
from ..base import Checker, Failure, describe
from .paginate import PaginateCheck


def broken_paginators():
    """``(names and descriptions, paginators, the names of those only latency shows, the names of those
    a store without latency shows only when a race goes its way)`` of the capstone's mutant catalogue,
    read from the workbook.

    The catalogue is the one the test suite proves the ``10.paginate`` checker against
    (``tests/mutants/stage10/paginate.py``), so both checkers judge by the same mistakes.
    """
    path = trees.project_root() / "tests" / "mutants" / "stage10" / "paginate.py"
    if not path.is_file():
        raise Failure(f"cannot grade a validator: the capstone's mutant catalogue {path} is missing")
    module = trees.load_module(path)
    beyond = getattr(module, "BEYOND_THE_VALIDATOR", set())
    mutants = {name: m for name, m in module.MUTANTS.items() if name not in beyond}
    needs, racy = (getattr(module, name, set()) for name in ("NEEDS_LATENCY", "RACY_WITHOUT_LATENCY"))
    return module.DESCRIPTIONS, mutants, needs, racy


def correct_paginator():
    """The reference solution of ``10.paginate``: what a validator must stay silent on."""
    return trees.load(catalog.get("10.paginate"), trees.tree("solutions"))


class ValidateCheck(Checker):
    """A learner's validator: silent on a correct paginator, and catches every paginator in the catalogue."""

    exercise_id = "10.validate"
    call_timeout = 60.0
    time_limit = 300.0
    #: Which of :meth:`_scenarios` has shards with latency: it mostly waits, so it is graded beside the
    #: others, and the mutants only latency shows are graded there.
    latency_store = 2

    @staticmethod
    def _scenarios():
        # Small on purpose: a validator walks every page of every size it tries, and each page is a
        # query per shard. These 7 posts (ties among them) show every mutant of the catalogue to the
        # model validator; a store of 12 on 4 shards cost twice the time and showed nothing more.
        posts = generate(PostsSpec(posts=7, users=6, celebrities=1, tie_share=0.3, seed=2))
        few = DirectoryRouter(ModuloRouter(6), {u: u % 3 for u in range(1, 7)})
        slow = generate(PostsSpec(posts=12, users=10, celebrities=2, tie_share=0.3, seed=21))[::4]
        return [
            (f"{len(posts)} posts on 3 shards", lambda c: PaginateCheck._store(c, 3, posts)),
            (f"{len(posts)} posts on 6 shards, 3 of them empty", lambda c: PaginateCheck._store(c, 6, posts, few)),
            (f"{len(slow)} posts on 4 shards of 20 ms each", lambda c: _latency_store(c, slow)),
        ]

    def verify(self, validate) -> list[str]:
        if not callable(validate):
            raise Failure(f"expected a function validate(paginate, store), got {describe(validate)}")
        reference = correct_paginator()
        descriptions, mutants, needs_latency, racy = broken_paginators()
        with contextlib.ExitStack() as stack:
            stack.enter_context(_thread_errors_kept([]))
            stores = _Stores(self._scenarios(), stack)
            slow = self.latency_store
            fast = [i for i in range(len(stores.names)) if i != slow]
            for i in range(len(stores.names)):
                stores.get(i)  # built here, before two threads use them

            def grade(names, where):
                """``{mutant: True (caught), False (not on these stores) or the Failure it led to}``."""
                verdicts = {}
                for name in names:
                    try:
                        verdicts[name] = any(self._problems(validate, mutants[name], stores, i, what(name))
                                             for i in where)  # fmt: skip
                    except Failure as failure:
                        verdicts[name] = failure
                        break  # no later mutant's verdict can come first
                return verdicts

            def what(name):
                return f"a paginator that {descriptions[name]}"

            def on_the_fast_stores():
                for i in fast:
                    self._silent(validate, reference, stores, i)
                return grade([name for name in mutants if name not in needs_latency], fast)

            def on_the_slow_store():  # mostly waiting for the shards' latency: beside the rest
                doubt = bool(self._problems(validate, reference, stores, slow, "a correct paginator"))
                return doubt, grade([name for name in mutants if name in needs_latency], [slow])

            # Silence on a correct paginator is judged first (the fast stores', then the slow one's), then
            # the mutants in the catalogue's order: the verdict sequential grading would give.
            fast_verdicts, (doubt, slow_verdicts) = self.side_by_side(on_the_fast_stores, on_the_slow_store)
            if doubt:
                # A learner's concurrency test times pages: beside the other stores' grading, on a busy
                # machine, a correct page can take longer than it alone would (beside two CPU hogs: 1 run
                # in 20 of the model validator reported 40 ms of 80). A problem it reported counts once
                # reported again with nothing else running.
                self._silent(validate, reference, stores, slow)
            verdicts = {**fast_verdicts, **slow_verdicts}
            for name in mutants:
                verdict = verdicts.get(name)
                if isinstance(verdict, Failure):
                    raise verdict
                # Not shown where it was graded first. A mistake only latency shows may also show on the
                # other stores, and one they show only when a race goes its way, on the slow store; any
                # other is judged on the stores without latency alone: on a busy machine, timing on the
                # slow one could report a problem that is not there (beside two CPU hogs, 1 run in 40 let
                # a validator that never edits a cursor pass: its tampered-cursor mutant "not concurrent").
                others = fast if name in needs_latency else [slow] if name in racy else []
                if not verdict and not any(
                    self._problems(validate, mutants[name], stores, i, what(name)) for i in others
                ):
                    raise Failure(f"your validator found nothing wrong with {what(name)}")
        return [
            "silent on a correct paginator over three stores",
            f"catches all {len(mutants)} broken paginators of the capstone's catalogue",
        ]

    def _silent(self, validate, reference, stores, i) -> None:
        """Failure unless ``validate`` finds nothing wrong with the correct paginator on store ``i``."""
        problems = self._problems(validate, reference, stores, i, "a correct paginator")
        if problems:
            raise Failure(
                f"your validator reported {describe(problems[0])} for a correct paginator on {stores.names[i]}; "
                "a validator must stay silent when nothing is wrong"
            )

    def _problems(self, validate, paginator, stores, i, what) -> list:
        store = stores.get(i)
        on = f"validate({what}, {stores.names[i]})"
        tagged = _tagged(paginator)

        def run():
            try:
                return validate(tagged, store)
            except Exception as exc:
                if getattr(exc, _FROM_PAGINATOR, False):
                    raise Failure(
                        f"{on}: the paginator raised {type(exc).__name__}: {exc} — and your validator let it "
                        "through. Call the paginator inside try/except: what it raises is a finding to report "
                        "(or, for a bad cursor, the InvalidCursor you expect), never a reason for the validator "
                        "to crash"
                    ) from None
                raise

        problems = self.call(run, on=on)
        if not isinstance(problems, (list, tuple)):
            raise Failure(f"validate({what}, {stores.names[i]}) returned {describe(problems)}; return a list")
        return list(problems)


_FROM_PAGINATOR = "_minicluster_raised_by_the_paginator"


def _tagged(paginator):
    """``paginator``, marking what it raises, so a verdict can say whose exception escaped."""

    @functools.wraps(paginator)
    def paginate(*args, **kwargs):
        try:
            return paginator(*args, **kwargs)
        except Exception as exc:
            with contextlib.suppress(AttributeError):  # an exception type without a __dict__ stays unmarked
                setattr(exc, _FROM_PAGINATOR, True)
            raise

    return paginate


@contextlib.contextmanager
def _thread_errors_kept(into: list):
    """While grading, exceptions in the broken paginators' own threads (a shard crashed under a thread
    nobody waits for) are kept in ``into`` instead of printing tracebacks over the verdict; threads
    started meanwhile (other than thread-pool workers) get two seconds to finish before the usual hook is back."""
    before, previous = set(threading.enumerate()), threading.excepthook
    threading.excepthook = lambda args: into.append(args.exc_value)
    try:
        yield into
    finally:
        deadline = time.monotonic() + 2.0
        for thread in set(threading.enumerate()) - before:
            # (a thread pool's idle workers wait for work, and report errors through futures, not the hook)
            if thread is not threading.current_thread() and getattr(thread, "_target", None) is not _pool_worker:
                thread.join(max(0.0, deadline - time.monotonic()))
        threading.excepthook = previous


class _Stores:
    """One store per scenario, rebuilt only when a validator left it changed (a post added, a shard down)."""

    #: How long a store's shards may take to finish fetches left running before it is rebuilt instead.
    IDLE_WITHIN = 2.0

    def __init__(self, scenarios, stack: contextlib.ExitStack) -> None:
        self.names = [name for name, _ in scenarios]
        self._builds = [build for _, build in scenarios]
        self._stack = stack
        self._stores: list = [None] * len(scenarios)
        self._posts: list = [None] * len(scenarios)

    def get(self, i: int):
        store = self._stores[i]
        # A broken paginator may leave fetches running after its page (they count rows against the next
        # validator's pages): the store is used again once they are done, or rebuilt.
        if (
            store is not None
            and all(s.node.wait_idle(self.IDLE_WITHIN) for s in store.shards)
            and all(s.node.is_up for s in store.shards)
            and store.all_posts() == self._posts[i]
        ):
            return store
        cluster = self._stack.enter_context(Cluster(seed=21 + i))
        store = self._stores[i] = self._builds[i](cluster)
        self._posts[i] = store.all_posts()
        return store


def _latency_store(cluster, posts):
    """Shards of 20 ms each: one page asked concurrently takes ~20 ms, one shard after another ~80. Small,
    since every page a validator walks here costs that much."""
    store = ShardedPosts(cluster, 4)
    store.load(posts)
    for shard in store.shards:  # only the validator's queries take the latency, not the set-up's
        shard.node.query_time = 0.02
    return store
