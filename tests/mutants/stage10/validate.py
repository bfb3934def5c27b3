"""Wrong validators for ``10.validate``.

The ones that leave one check out are the reference validator (the solution's public ``validate``)
with the reports of that check thrown away: it stops at the first problem it finds, so dropping a
check's reports is the same as never running it.
"""

from minicluster.workbook import load

_validate = load("10.validate", tree="solutions")


def finds_nothing(paginate, store):
    return []


def complains_about_everything(paginate, store):
    return ["something looks off"]


def only_checks_the_first_page(paginate, store):
    posts, _, _ = paginate(store.shards, None, 5, "newest")
    return [] if posts == store.all_posts("newest")[:5] else ["first page differs"]


def only_newest_first_and_order(paginate, store):
    """Walks pages of 3, newest first, and compares the posts: never looks at anything else."""
    walked, cursor = [], None
    for _ in range(len(store.all_posts("newest")) + 2):
        posts, cursor, has_next = paginate(store.shards, cursor, 3, "newest")
        walked += posts
        if not has_next:
            break
    return [] if walked == store.all_posts("newest") else ["order"]


def _without(name, *words):
    """The reference validator, deaf to the reports that contain any of ``words``."""

    def validate(paginate, store):
        return [p for p in _validate(paginate, store) if not any(w in p for w in words)]

    validate.__name__ = name
    return validate


never_checks_concurrency = _without("never_checks_concurrency", "not concurrent")
never_takes_a_shard_down = _without("never_takes_a_shard_down", "instead of an error")
never_tries_bad_cursors = _without("never_tries_bad_cursors", "cursor was accepted", "not InvalidCursor")
never_walks_oldest_first = _without("never_walks_oldest_first", "oldest first")
never_edits_a_cursor = _without("never_edits_a_cursor", "tampered cursor")
any_error_will_do_for_a_bad_cursor = _without("any_error_will_do_for_a_bad_cursor", "not InvalidCursor")
never_changes_posts = _without("never_changes_posts", "while posts changed")
accepts_an_error_while_shards_are_read = _without("accepts_an_error_while_shards_are_read", "still being read")


def sorts_each_page_first(paginate, store):
    """Puts each page in feed order before comparing: blind to the order of posts inside a page."""

    def sorted_pages(shards, cursor=None, page_size=20, direction="newest"):
        posts, next_cursor, has_next = paginate(shards, cursor, page_size, direction)
        return sorted(posts, key=lambda p: p.key, reverse=direction == "newest"), next_cursor, has_next

    return _validate(sorted_pages, store)


def raises_instead_of_reporting(paginate, store):
    posts, _, _ = paginate(store.shards, "garbage", 5, "newest")
    return []


MUTANTS = {
    f.__name__: f
    for f in (
        finds_nothing,
        complains_about_everything,
        only_checks_the_first_page,
        only_newest_first_and_order,
        never_checks_concurrency,
        never_takes_a_shard_down,
        never_tries_bad_cursors,
        raises_instead_of_reporting,
        never_walks_oldest_first,
        never_edits_a_cursor,
        any_error_will_do_for_a_bad_cursor,
        never_changes_posts,
        sorts_each_page_first,
        accepts_an_error_while_shards_are_read,
    )
}
