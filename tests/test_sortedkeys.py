"""The sorted set index (redislet/types/sortedkeys.py) against a plain sorted list, with
small sublist loads so that splits, merges and the rank tree's rebuilds happen often.
Compiled or pure, whichever the build runs (CI runs both). The zset tests exercise it
through the server; this one reaches the corners a server test cannot aim at."""
import bisect
import random

import pytest

from redislet.types.sortedkeys import SortedKeys


def _check(sk, ref):
    assert len(sk) == len(ref)
    assert list(sk) == ref
    assert list(reversed(sk)) == ref[::-1]
    assert all(sk.lists), "no empty sublist"
    assert sk.maxes == [lst[-1] for lst in sk.lists]
    assert all(len(lst) <= 2 * sk.load for lst in sk.lists)


@pytest.mark.parametrize("seed", range(24))
def test_random_operations_match_a_sorted_list(seed):
    rnd = random.Random(seed)
    load = [2, 3, 4, 8, 16, 256][seed % 6]
    universe = rnd.choice([50, 500, 5000])
    sk = SortedKeys(None, load)
    ref = []
    for step in range(2000):
        op = rnd.random()
        key = b"%05d" % rnd.randrange(universe)
        if op < 0.4:
            sk.add(key)
            bisect.insort(ref, key)
        elif op < 0.55 and ref:
            key = rnd.choice(ref)
            sk.remove(key)
            ref.remove(key)
        elif op < 0.6:
            with pytest.raises(ValueError):
                sk.remove(b"absent")
            with pytest.raises(ValueError):
                sk.index(b"absent")
        elif op < 0.65 and ref:
            i = rnd.randrange(-len(ref), len(ref))
            assert sk.pop(i) == ref.pop(i)
        elif op < 0.7:
            lo = rnd.randrange(len(ref) + 1)
            hi = rnd.randrange(len(ref) + 1)
            del sk[lo:hi]
            del ref[lo:hi]
        elif op < 0.75:
            keys = [b"%05d" % rnd.randrange(universe) for _ in range(rnd.randrange(300))]
            sk.update(keys)
            ref = sorted(ref + keys)
        elif op < 0.85:
            assert sk.bisect_left(key) == bisect.bisect_left(ref, key)
            assert sk.bisect_right(key) == bisect.bisect_right(ref, key)
            if ref:
                present = rnd.choice(ref)
                assert sk.index(present) == bisect.bisect_left(ref, present)
        elif op < 0.95 and ref:
            i = rnd.randrange(-len(ref), len(ref))
            assert sk[i] == ref[i]
            lo = rnd.randrange(len(ref) + 1)
            hi = rnd.randrange(len(ref) + 2)
            assert sk[lo:hi] == ref[lo:hi]
            assert list(sk.islice(lo)) == ref[lo:]
            assert list(sk.islice(lo, hi)) == ref[lo:hi]
        elif op < 0.96:
            other = sk.copy()
            assert list(other) == ref
            if rnd.random() < 0.3:
                sk = other
        elif op < 0.965:
            sk.clear()
            ref = []
        if step % 50 == 0:
            _check(sk, ref)
    _check(sk, ref)


def test_out_of_range_positions_raise_index_error():
    sk = SortedKeys([b"a", b"b"])
    for i in (2, -3):
        with pytest.raises(IndexError):
            sk[i]
        with pytest.raises(IndexError):
            sk.pop(i)
    with pytest.raises(IndexError):
        SortedKeys().pop()
    assert sk[-1] == b"b" and sk[0:5] == [b"a", b"b"] and sk[::-1] == [b"b", b"a"]
