"""Exercise 02.servers_needed: how many web servers for a target load, on the back of an envelope.

Capacity planning in three steps: how much one server can take, how much of that you dare to use
(headroom for spikes), and how many spares keep you safe when a server dies (N+1).
"""

import math


def servers_needed(target_qps, per_server_qps, headroom=0.25, spares=1):
    """Return how many web servers to run (an int).

    - ``target_qps``: the peak requests per second to serve.
    - ``per_server_qps``: the most one server can complete per second (measured, or workers / service time).
    - ``headroom``: the fraction of each server's capacity kept free for spikes (0.25 = run at most 75% busy).
    - ``spares``: servers added on top so that losing that many still leaves enough (1 = "N+1").

    Never plan a fraction of a server: round up.
    """
    usable_per_server = per_server_qps * (1 - headroom)
    return math.ceil(target_qps / usable_per_server) + spares
