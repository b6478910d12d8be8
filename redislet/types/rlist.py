"""The list value: a deque (O(1) push/pop at both ends, O(n/64) indexing in the middle).

A dedicated subclass so that `type(v) is RList` identifies list values (TYPE, WRONGTYPE,
OBJECT ENCODING). Redis 7.0 encodes every list as a quicklist.
"""
from collections import deque

from .. import db as _db


class RList(deque):
    __slots__ = ()


_db.TYPE_NAMES[RList] = b"list"
_db.ENCODING_FUNCS[RList] = lambda v: b"quicklist"
