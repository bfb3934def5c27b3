"""Exercise 01.capacity: how much can one server take, and where is the knee?

A server has ``workers`` threads. Each request keeps one worker busy for ``service_time_s`` seconds
(its whole time in the server, waiting on the database included). Closed-loop users send a request,
wait for the answer, think for ``think_time_s`` seconds, and send the next one. Every request also
runs one query on the database, which can answer at most ``db_qps`` queries per second: the server
can never go faster than the slower of the two.
"""


def capacity(workers, service_time_s, think_time_s=0.0, db_qps=None):
    """Return ``(max_throughput, knee_users)`` for one server.

    - ``max_throughput``: the most requests per second it can complete: every worker busy all the
      time, unless the database (``db_qps``, ``None`` when it is not a limit) is the lower ceiling.
    - ``knee_users``: how many closed-loop users it takes to reach that throughput. Below it, more
      users bring more throughput; above it, they only wait in a queue (the workers' or the database's).

    Ignore the network and the overheads: this is the back-of-the-envelope estimate that the
    measurement in the notebook is compared against.
    """
    # TODO: write this (the docstring says what it must do), then run: minicluster check 01.capacity
    raise NotImplementedError
