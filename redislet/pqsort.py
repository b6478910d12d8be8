"""Redis's pqsort (pqsort.c): a Bentley-McIlroy quicksort that only sorts the partitions
overlapping [lrange, rrange]. SORT ... LIMIT and GEO* ... COUNT use it so that ties come
out in the same order as in Redis.
"""


def _med3(v, a, b, c, cmp):
    if cmp(v[a], v[b]) < 0:
        if cmp(v[b], v[c]) < 0:
            return b
        return c if cmp(v[a], v[c]) < 0 else a
    if cmp(v[b], v[c]) > 0:
        return b
    return a if cmp(v[a], v[c]) < 0 else c


def _vecswap(v, i, j, n):
    for k in range(n):
        v[i + k], v[j + k] = v[j + k], v[i + k]


def pqsort(v, cmp, lrange, rrange):
    """Sort v enough that positions lrange..rrange hold what a full sort would put
    there, exactly as Redis's pqsort orders them (ties included)."""
    _pqsort(v, 0, len(v), cmp, lrange, rrange)


def _pqsort(v, a, n, cmp, lrange, rrange):
    while True:
        if n < 7:
            for pm in range(a + 1, a + n):
                pl = pm
                while pl > a and cmp(v[pl - 1], v[pl]) > 0:
                    v[pl], v[pl - 1] = v[pl - 1], v[pl]
                    pl -= 1
            return
        pm = a + n // 2
        if n > 7:
            pl = a
            pn = a + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(v, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(v, pm - d, pm, pm + d, cmp)
                pn = _med3(v, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(v, pl, pm, pn, cmp)
        v[a], v[pm] = v[pm], v[a]
        pa = pb = a + 1
        pc = pd = a + n - 1
        while True:
            while pb <= pc:
                r = cmp(v[pb], v[a])
                if r > 0:
                    break
                if r == 0:
                    v[pa], v[pb] = v[pb], v[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(v[pc], v[a])
                if r < 0:
                    break
                if r == 0:
                    v[pc], v[pd] = v[pd], v[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            v[pb], v[pc] = v[pc], v[pb]
            pb += 1
            pc -= 1
        pn = a + n
        r = min(pa - a, pb - pa)
        if r > 0:
            _vecswap(v, a, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        if r > 0:
            _vecswap(v, pb, pn - r, r)
        r = pb - pa
        if r > 1 and not ((lrange < a and rrange < a)
                          or (lrange >= a + r and rrange >= a + r)):
            _pqsort(v, a, r, cmp, lrange, rrange)
        r = pd - pc
        if r <= 1:
            return
        a = pn - r
        n = r
        if (lrange < a and rrange < a) or (lrange >= a + r and rrange >= a + r):
            return


# -- SORT ------------------------------------------------------------------------------
