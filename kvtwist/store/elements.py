# -*- test-case-name: kvtwist.test.test_store_hashes -*-
"""
What hashes, sets and sorted sets share: iterating over the elements of
one value a step at a time (C{HSCAN}, C{SSCAN}, C{ZSCAN}) and picking
elements at random (C{HRANDFIELD}, C{SRANDMEMBER}, C{SPOP}).
"""

import heapq
import random
from typing import Collection, List, Tuple

from kvtwist.store.errors import Refused

#: A value of at most this many elements is answered whole by one step,
#: with cursor 0, as Redis answers its small (listpack) encodings.
SMALL = 128

#: A step answers at least this fraction of a big value's elements, so
#: that a whole iteration takes a bounded number of O(N) steps.
_MIN_STEPS_SHARE = 64

_MASK = (1 << 64) - 1


def scanElements(elements: Collection[bytes], cursor: int, count: int
                 ) -> Tuple[int, List[bytes]]:
    """
    One step of an iteration over C{elements} (a set, or a dict's keys):
    C{(nextCursor, chosen)}, C{nextCursor} 0 when the iteration is over.

    Elements are visited in the order of their hashes, and a cursor is the
    least hash the next step visits, so that, as Redis promises, every
    element present from the start of an iteration to its end is returned
    (once), whatever is added or removed meanwhile.  A step costs O(N),
    and answers at least C{count} elements and a 64th of them: a whole
    iteration is at most about 64 steps.  Cursors are good within one
    server process (string hashes are salted per process).

    @param cursor: 0 to start, else a cursor a step returned.
    @param count: Redis's C{COUNT} hint.
    """
    n = len(elements)
    if n <= SMALL:
        return 0, list(elements)
    batch = max(count, n // _MIN_STEPS_SHARE)
    mask = _MASK
    candidates = [(h, e) for h, e in ((hash(e) & mask, e) for e in elements)
                  if h >= cursor]
    if len(candidates) <= batch:
        return 0, [e for _, e in candidates]
    chosen = heapq.nsmallest(batch, candidates)
    following = chosen[-1][0] + 1
    if following > mask:
        following = 0
    return following, [e for _, e in chosen]


def parseCursor(text: bytes) -> int:
    """
    A SCAN cursor argument: an unsigned 64-bit decimal.

    @raise Refused: with Redis's C{ERR invalid cursor} if it is not one.
    """
    if not text.isdigit() or len(text) > 20:
        raise Refused("ERR invalid cursor")
    cursor = int(text)
    if cursor > _MASK:
        raise Refused("ERR invalid cursor")
    return cursor


def sample(population: Collection, count: int) -> list:
    """
    Elements of C{population} picked at random, as Redis's C{SRANDMEMBER}
    and C{HRANDFIELD} with a count do: C{count} distinct ones (all of them,
    in a random order, if there are not so many) when positive; C{-count}
    picks that may repeat when negative.
    """
    if count >= 0:
        items = list(population)
        if count >= len(items):
            random.shuffle(items)
            return items
        return random.sample(items, count)
    items = population if isinstance(population, list) else list(population)
    return random.choices(items, k=-count)


def pickOne(population: Collection):
    """
    One element of the non-empty C{population}, at random.
    """
    if isinstance(population, (list, tuple)):
        return random.choice(population)
    return random.choice(list(population))
