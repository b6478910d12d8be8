"""SortedKeys: a sorted sequence of bytes keys with ranks, the ordered index of a sorted
set (types/zset.py keeps one key per member, `score_key(score) + member`).

The keys live in sublists of at most 2 * LOAD keys, in order, and `maxes` holds each
sublist's last key, so a key's place is two binary searches: one over `maxes`, one inside a
sublist. A sublist that outgrows 2 * LOAD splits in two; one that falls under LOAD / 2
joins a neighbour. Small sublists keep an insertion's memmove short.

Ranks need the number of keys before a sublist: `tree` is a Fenwick tree (binary indexed
tree) over the sublist lengths. It is built by the first query that needs a rank, kept
current by add and remove in O(log k) steps, and dropped when the sublists themselves
change (a split, an emptied sublist, a bulk update), to be rebuilt by the next rank query.
A workload of inserts alone (ZADD) never builds it.

What Redis does in O(log n) on its skiplist (insert, delete, rank, the start of a range)
is O(log n) here too, plus the memmove of one sublist.
"""
from itertools import chain

LOAD = 256      # sublists hold LOAD..2*LOAD keys once split (fewer at the ends)


# The binary searches are loops of our own rather than the bisect module's: typed (.pxd),
# each comparison is a memcmp, about a fifth of what bisect's generic comparison costs.
# (Interpreted, bisect would be faster; the compiled build is the one that counts.)
def _left(keys, key):
    """bisect_left(keys, key): the index of the first key >= key."""
    lo = 0
    hi = len(keys)
    while lo < hi:
        mid = (lo + hi) >> 1
        k = keys[mid]
        if k < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _right(keys, key):
    """bisect_right(keys, key): the index of the first key > key."""
    lo = 0
    hi = len(keys)
    while lo < hi:
        mid = (lo + hi) >> 1
        k = keys[mid]
        if key < k:
            hi = mid
        else:
            lo = mid + 1
    return lo


class SortedKeys:
    __slots__ = ("lists", "maxes", "tree", "n", "load")

    def __init__(self, keys=None, load=LOAD):
        self.lists = []     # sublists of keys, in order, none empty
        self.maxes = []     # maxes[i] == lists[i][-1]
        self.tree = []      # Fenwick tree of the sublist lengths (1-based), [] = not built
        self.n = 0
        self.load = load
        if keys is not None:
            self.update(keys)

    def __len__(self):
        return self.n

    def __iter__(self):
        for lst in self.lists:
            yield from lst

    def __reversed__(self):
        for lst in reversed(self.lists):
            yield from reversed(lst)

    def copy(self):
        other = SortedKeys(None, self.load)
        other.lists = [lst[:] for lst in self.lists]
        other.maxes = self.maxes[:]
        other.n = self.n
        return other

    def clear(self):
        self.lists = []
        self.maxes = []
        self.tree = []
        self.n = 0

    def update(self, keys):
        """Add many keys: one sort of all of them and fresh sublists, or for a few keys
        into many, one add each."""
        if not isinstance(keys, list):
            keys = list(keys)
        if self.n and len(keys) * 4 < self.n:
            for key in keys:
                self.add(key)
            return
        if self.n:
            allkeys = list(self)
            allkeys.extend(keys)
        else:
            allkeys = list(keys)
        allkeys.sort()
        self._chunk(allkeys)

    def _chunk(self, keys):
        """Replace the contents with keys (sorted)."""
        load = self.load
        lists = [keys[i:i + load] for i in range(0, len(keys), load)]
        self.lists = lists
        self.maxes = [lst[-1] for lst in lists]
        self.tree = []
        self.n = len(keys)

    # -- changes ----------------------------------------------------------------------
    def add(self, key):
        maxes = self.maxes
        lists = self.lists
        k = len(maxes)
        if k == 0:
            lists.append([key])
            maxes.append(key)
            self.n = 1
            return
        pos = _right(maxes, key)
        if pos == k:
            pos -= 1
            lst = lists[pos]
            lst.append(key)
            maxes[pos] = key
        else:
            lst = lists[pos]
            lst.insert(_right(lst, key), key)
        self.n += 1
        if len(lst) > 2 * self.load:
            self._split(pos)
        elif self.tree:
            self._tree_add(pos, 1)

    def _split(self, pos):
        """Cut the overlong sublist pos in two, the first of LOAD keys."""
        lists = self.lists
        maxes = self.maxes
        load = self.load
        lst = lists[pos]
        half = lst[load:]
        del lst[load:]
        maxes[pos] = lst[-1]
        lists.insert(pos + 1, half)
        maxes.insert(pos + 1, half[-1])
        self.tree = []

    def remove(self, key):
        """Remove key; ValueError if it is not there."""
        pos, i = self._find(key)
        self._delete(pos, i)

    def _find(self, key):
        """(sublist, position in it) of key; ValueError if it is not there."""
        maxes = self.maxes
        pos = _left(maxes, key)
        if pos == len(maxes):
            raise ValueError("key not in index")
        lst = self.lists[pos]
        i = _left(lst, key)
        if lst[i] != key:
            raise ValueError("key not in index")
        return pos, i

    def _delete(self, pos, i):
        """Remove the key at index i of sublist pos."""
        lists = self.lists
        lst = lists[pos]
        del lst[i]
        self.n -= 1
        if len(lst) < self.load // 2 and len(lists) > 1:
            self._merge(pos)
            return
        if not lst:
            del lists[pos]
            del self.maxes[pos]
            self.tree = []
            return
        if i == len(lst):
            self.maxes[pos] = lst[-1]
        if self.tree:
            self._tree_add(pos, -1)

    def _merge(self, pos):
        """Join the short sublist pos with a neighbour (deletes would otherwise leave a
        trail of tiny sublists), splitting the result again if it is too long."""
        lists = self.lists
        maxes = self.maxes
        a = pos if pos + 1 < len(lists) else pos - 1
        lst = lists[a]
        lst.extend(lists[a + 1])
        del lists[a + 1]
        del maxes[a + 1]
        maxes[a] = lst[-1]
        self.tree = []
        if len(lst) > 2 * self.load:
            self._split(a)

    def pop(self, index=-1):
        """Remove and return the key of rank index (negative: from the end)."""
        n = self.n
        if index < 0:
            index += n
        if index < 0 or index >= n:
            raise IndexError("pop index out of range")
        pos, i = self._locate(index)
        key = self.lists[pos][i]
        self._delete(pos, i)
        return key

    def __delitem__(self, s):
        """del index[lo:hi] (a slice with the default step)."""
        lo, hi, _ = s.indices(self.n)
        if hi <= lo:
            return
        if lo == 0 and hi == self.n:
            self.clear()
            return
        pos, i = self._locate(lo)
        first = pos
        lists = self.lists
        maxes = self.maxes
        left = hi - lo
        self.n -= left
        while left > 0:
            lst = lists[pos]
            if i == 0 and len(lst) <= left:
                left -= len(lst)
                del lists[pos]
                del maxes[pos]
            else:
                part = len(lst) - i
                if part > left:
                    part = left
                del lst[i:i + part]
                left -= part
                maxes[pos] = lst[-1]
                pos += 1
                i = 0
        self.tree = []
        load = self.load
        for pos in (first + 1, first):    # the two ends of the cut may now be short
            if pos < len(lists) and len(lists[pos]) < load // 2 and len(lists) > 1:
                self._merge(pos)

    # -- ranks ------------------------------------------------------------------------
    def _build_tree(self):
        lists = self.lists
        k = len(lists)
        tree = [0] * (k + 1)
        for i in range(1, k + 1):
            tree[i] += len(lists[i - 1])
            j = i + (i & -i)
            if j <= k:
                tree[j] += tree[i]
        self.tree = tree

    def _tree_add(self, pos, delta):
        tree = self.tree
        k = len(tree) - 1
        i = pos + 1
        while i <= k:
            tree[i] += delta
            i += i & -i

    def _before(self, pos):
        """How many keys the sublists before sublist pos hold."""
        if pos == 0:
            return 0
        if not self.tree:
            self._build_tree()
        tree = self.tree
        total = 0
        i = pos
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def _locate(self, index):
        """(sublist, position in it) of the key of rank index (0 <= index < n)."""
        lists = self.lists
        if index < len(lists[0]):
            return 0, index
        if not self.tree:
            self._build_tree()
        tree = self.tree
        k = len(tree) - 1
        pos = 0
        step = 1
        while step * 2 <= k:
            step *= 2
        while step:
            nxt = pos + step
            if nxt <= k:
                t = tree[nxt]
                if t <= index:
                    pos = nxt
                    index -= t
            step //= 2
        return pos, index

    def bisect_left(self, key):
        """The rank of the first key >= key."""
        maxes = self.maxes
        pos = _left(maxes, key)
        if pos == len(maxes):
            return self.n
        return self._before(pos) + _left(self.lists[pos], key)

    def bisect_right(self, key):
        """The rank of the first key > key."""
        maxes = self.maxes
        pos = _right(maxes, key)
        if pos == len(maxes):
            return self.n
        return self._before(pos) + _right(self.lists[pos], key)

    def index(self, key):
        """The rank of key; ValueError if it is not there."""
        pos, i = self._find(key)
        return self._before(pos) + i

    def __getitem__(self, index):
        """index[i] (negative from the end) or index[lo:hi] (a list)."""
        n = self.n
        if isinstance(index, slice):
            lo, hi, step = index.indices(n)
            if step != 1:
                return list(self)[index]
            return list(chain.from_iterable(self._pieces(lo, hi)))
        if index < 0:
            index += n
        if index < 0 or index >= n:
            raise IndexError("index out of range")
        if index == n - 1:
            return self.maxes[-1]
        pos, i = self._locate(index)
        return self.lists[pos][i]

    def islice(self, start=0, stop=None):
        """The keys of ranks [start, stop), lazily (0 <= start)."""
        n = self.n
        return chain.from_iterable(self._pieces(start, n if stop is None or stop > n
                                                else stop))

    def _pieces(self, lo, hi):
        """The keys of ranks [lo, hi) as slices of the sublists, in order."""
        if lo >= hi:
            return
        pos, i = self._locate(lo)
        left = hi - lo
        lists = self.lists
        while left > 0:
            lst = lists[pos]
            if i == 0 and len(lst) <= left:
                piece = lst[:]
            else:
                piece = lst[i:i + left]
            yield piece
            left -= len(piece)
            pos += 1
            i = 0
