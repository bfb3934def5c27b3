"""Exercise 01.capacity: how much can one server take, and where is the knee?

A server has ``workers`` threads. Each request keeps one worker busy for ``service_time_s`` seconds.
Closed-loop users send a request, wait for the answer, think for ``think_time_s`` seconds, and send
the next one.
"""


def capacity(workers, service_time_s, think_time_s=0.0):
    """Return ``(max_throughput, knee_users)`` for one server.

    - ``max_throughput``: the most requests per second the server can complete, when every worker
      is busy all the time.
    - ``knee_users``: how many closed-loop users it takes to keep every worker busy. Below it, more
      users bring more throughput; above it, they only wait in the queue.

    Ignore the network and the overheads: this is the back-of-the-envelope estimate that the
    measurement in the notebook is compared against.
    """
    # TODO: write this (the docstring says what it must do), then run: minicluster check 01.capacity
    raise NotImplementedError
