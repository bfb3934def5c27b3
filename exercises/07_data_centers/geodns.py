"""Exercise 07.geodns: send each user to a data center that can serve them, as near as possible.

GeoDNS answers a user's DNS query with the address of a region chosen for that user. Nearest is
fastest, but a region that is down must never be chosen (its users would wait for nothing), and a
region already serving all it can should not get more while another has room: its new users would be
turned away, even though a region a little farther could serve them.

``regions`` lists what health checks and metrics say of each region: ``.name``, ``.healthy``,
``.load`` (requests/s it served last) and ``.capacity`` (requests/s it can serve). ``latency(a, b)``
is the one-way latency in seconds between two regions (by name).
"""

from minicluster.regions import NoHealthyRegion


def choose_region(user_region, regions, latency):
    """Return the region (one of ``regions``) to send a user of ``user_region`` to.

    - Never a region that is not healthy; raise ``NoHealthyRegion`` if none is.
    - The nearest healthy region with room (``load`` below ``capacity``), by ``latency(user_region,
      region name)``; a region whose load has reached its capacity has no room.
    - If no healthy region has room, the nearest healthy one.
    - Equal latencies: the region whose name sorts first.
    """
    # TODO: write this (the docstring says what it must do), then run: minicluster check 07.geodns
    raise NotImplementedError
