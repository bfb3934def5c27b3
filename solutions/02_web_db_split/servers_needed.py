"""Exercise 02.servers_needed: how many web servers for a target load, on the back of an envelope.

Capacity planning in four steps: can the tier every request also visits (the database) take the load
at all, how much one web server can take, how much of that you dare to use (headroom for spikes), and
how many spares keep you safe when a server dies (N+1).
"""

import math

from minicluster.errors import Bottleneck


def servers_needed(target_qps, per_server_qps, headroom=0.25, spares=1, db_qps=None):
    """Return how many web servers to run (an int).

    - ``target_qps``: the peak requests per second to serve.
    - ``per_server_qps``: the most one server can complete per second (measured, or workers / service time).
    - ``headroom``: the fraction of each server's capacity kept free for spikes (0.25 = run at most 75% busy).
    - ``spares``: servers added on top so that losing that many still leaves enough (1 = "N+1").
    - ``db_qps``: the most the database can serve per second (``cores / query_time``), or ``None`` when
      it is not the limit. Every request visits it, so keep the same headroom there too: when the
      target is more than the database's usable share, raise ``Bottleneck`` (no number of web servers
      helps; say what the database can take).

    Never plan a fraction of a server: round up.
    """
    if db_qps is not None and target_qps > db_qps * (1 - headroom):
        raise Bottleneck(
            f"{target_qps} req/s is more than the database takes at {1 - headroom:.0%} busy "
            f"({db_qps * (1 - headroom):g} of its {db_qps:g} req/s): grow the database, not the web tier"
        )
    usable_per_server = per_server_qps * (1 - headroom)
    return math.ceil(target_qps / usable_per_server) + spares
