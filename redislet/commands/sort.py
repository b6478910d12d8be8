"""SORT and SORT_RO (sort.c).

Ordering follows Redis exactly: numeric sorts compare the doubles strtod gives and break
ties by comparing the elements' bytes (a total order); ALPHA compares C strings (the
bytes up to a NUL, as strcoll in the C locale) unless STORE is given (binary compare);
ALPHA with BY keeps equal weights in input order (glibc's qsort is a merge sort) and,
with a LIMIT, uses a port of Redis's partial quicksort (pqsort) so ties land where they
land in Redis.
"""
import math
import re
from fractions import Fraction

from ..pqsort import pqsort
from ..errors import CommandError, SYNTAX, NOT_INTEGER, WRONGTYPE
from ..resp.encode import integer
from ..types.rlist import RList
from ..util import parse_ll
from ..types.zset import ZSet
from . import sets as _sets
from .hashes import Hash
from .table import command, lookup

NOTIFY_GENERIC = 1 << 2
NOTIFY_LIST = 1 << 4

# strtod's accepted syntax (after leading white space): decimal, hex float, inf, nan
_STRTOD = re.compile(
    rb"[+-]?(?:"
    rb"(?P<dec>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    rb"|(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)"
    rb"|(?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    rb"|(?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)"
    rb")")
_DBL_MIN = 2.2250738585072014e-308
# numbers whose strtod is Python's float() (correctly rounded both), far from overflow
# and underflow: most numeric SORT inputs, converted at C speed
_PLAIN_NUMBER = re.compile(rb"-?[0-9]{1,20}(?:\.[0-9]{1,20})?").fullmatch


def strtod_score(b):
    """SORT's numeric weight: strtod over the C string, which must be consumed entirely,
    without ERANGE or NaN. Returns None for 'can't be converted'."""
    nul = b.find(b"\0")
    if nul >= 0:
        b = b[:nul]
    if not b:
        return 0.0   # no conversion, but the end pointer is at the terminator
    t = b.lstrip(b" \t\n\v\f\r")
    m = _STRTOD.fullmatch(t)
    if m is None:
        return None
    if m.group("nan") is not None:
        return None
    if m.group("inf") is not None:
        return -math.inf if t[:1] == b"-" else math.inf
    if m.group("hex") is not None:
        s = t.decode()
        neg = s[0] == "-"
        body = s.lstrip("+-")
        if "p" not in body.lower():
            body += "p0"
        try:
            v = float.fromhex(body)
        except OverflowError:
            return None
        v = -v if neg else v
    else:
        v = float(t)
        if math.isinf(v):
            return None   # overflow: ERANGE
    if abs(v) < _DBL_MIN and _inexact(m, v):
        return None   # underflow (zero or subnormal, inexact): glibc sets ERANGE
    return v


def _inexact(m, v):
    """True when the parsed number is not exactly the double v."""
    g = m.group("dec")
    if g is not None:
        return Fraction(g.decode()) != Fraction(abs(v))
    g = m.group("hex").decode()[2:]
    mant, _, exp = g.lower().partition("p")
    ip, _, fp = mant.partition(".")
    digits = (ip + fp) or "0"
    exact = Fraction(int(digits, 16)) * Fraction(2) ** (int(exp or "0") - 4 * len(fp))
    return exact != Fraction(abs(v))


def _cstr(b):
    nul = b.find(b"\0")
    return b if nul < 0 else b[:nul]


def lookup_by_pattern(db, pattern, subst):
    """lookupKeyByPattern: '#' is the element itself; the first '*' is replaced by the
    element; 'key->field' reads a hash field. None when missing / wrong type / no '*'."""
    cpat = _cstr(pattern)
    if cpat == b"#":
        return subst
    p = cpat.find(b"*")
    if p < 0:
        return None
    f = cpat.find(b"->", p + 1)
    field = None
    if f >= 0 and f + 2 < len(cpat):
        field = pattern[f + 2:]
        keyname = pattern[:p] + subst + pattern[p + 1:f]
    else:
        keyname = pattern[:p] + subst + pattern[p + 1:]
    o = db.lookup_read(keyname)
    if o is None:
        return None
    if field is not None:
        if type(o) is not Hash:
            return None
        return o.get(field)
    if type(o) is not bytes:
        return None
    return o


# -- Redis's partial quicksort (pqsort.c), on a list with a three-way compare -------------
def _from_script(c):
    """CLIENT_SCRIPT: the command runs inside EVAL / FCALL."""
    return bool(getattr(c, "in_script", False))


def _full_key_access(c, argv):
    """ACLUserCheckCmdWithUnrestrictedKeyAccess: BY/GET patterns read arbitrary keys."""
    acl = c.server.acl
    if acl is None:
        return True
    fn = getattr(acl, "can_access_all_keys", None)
    if fn is None:
        return True
    return fn(c, lookup(argv), argv)


def _sort_generic(c, argv, readonly):
    desc = alpha = False
    limit_start = 0
    limit_count = -1
    dontsort = False
    sortby = None
    storekey = None
    gets = []
    argc = len(argv)
    cluster = c.server.config.values.get("cluster-enabled")
    full_access = None
    j = 2
    while j < argc:
        left = argc - j - 1
        opt = argv[j].lower()
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            limit_start = parse_ll(argv[j + 1])
            limit_count = parse_ll(argv[j + 2]) if limit_start is not None else None
            if limit_count is None:
                raise CommandError(NOT_INTEGER)
            j += 2
        elif not readonly and opt == b"store" and left >= 1:
            storekey = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            sortby = argv[j + 1]
            if b"*" not in _cstr(sortby):
                dontsort = True
            else:
                if cluster:
                    raise CommandError("ERR BY option of SORT denied in Cluster mode.")
                if full_access is None:
                    full_access = _full_key_access(c, argv)
                if not full_access:
                    raise CommandError("ERR BY option of SORT denied due to insufficient "
                                       "ACL permissions.")
            j += 1
        elif opt == b"get" and left >= 1:
            if cluster:
                raise CommandError("ERR GET option of SORT denied in Cluster mode.")
            if full_access is None:
                full_access = _full_key_access(c, argv)
            if not full_access:
                raise CommandError("ERR GET option of SORT denied due to insufficient "
                                   "ACL permissions.")
            gets.append(argv[j + 1])
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1

    db = c.db
    sortval = db.lookup_read(argv[1])
    kind = "list"
    if sortval is not None:
        t = type(sortval)
        if t is RList:
            kind = "list"
        elif t is _sets.RSet:
            kind = "set"
        elif t is ZSet:
            kind = "zset"
        else:
            raise CommandError(WRONGTYPE)

    if dontsort and kind == "set" and (storekey is not None or _from_script(c)):
        dontsort = False
        alpha = True
        sortby = None

    if kind == "zset":
        sortval.listpack = False   # zsetConvert(sortval, OBJ_ENCODING_SKIPLIST)

    vectorlen = len(sortval) if sortval is not None else 0
    start = min(max(limit_start, 0), vectorlen)
    limit_count = min(max(limit_count, -1), vectorlen)
    end = vectorlen - 1 if limit_count < 0 else start + limit_count - 1
    if start >= vectorlen:
        start = vectorlen - 1
        end = vectorlen - 2
    if end >= vectorlen:
        end = vectorlen - 1

    if kind in ("zset", "list") and dontsort and (start != 0 or end != vectorlen - 1):
        vectorlen = end - start + 1

    # load the vector
    if kind == "list" and dontsort:
        vector = []
        if end >= start and sortval is not None:
            items = list(sortval)
            n = len(items)
            if desc:
                first = n - start - 1
                vector = items[max(first - vectorlen + 1, 0):first + 1]
                vector.reverse()
            else:
                vector = items[start:start + vectorlen]
            end -= start
            start = 0
    elif kind == "list":
        vector = list(sortval) if sortval is not None else []
    elif kind == "set":
        vector = list(_sets._ordered(sortval))
    elif dontsort:   # zset
        n = len(sortval)
        if desc:
            lo = n - start - vectorlen
            vector = sortval.members(lo, n - start)
            vector.reverse()
        else:
            vector = sortval.members(start, start + vectorlen)
        end -= start
        start = 0
    else:
        vector = sortval.members()

    if not dontsort:
        vector = _do_sort(c, db, vector, sortby, alpha, desc, storekey is not None,
                          start, end)

    # output
    if gets:
        outputlen = len(gets) * (end - start + 1) if end >= start else 0
    else:
        outputlen = end - start + 1 if end >= start else 0
    if storekey is None:
        null = c.r.null
        out = [b"*%d\r\n" % outputlen]
        for k in range(start, end + 1):
            ele = vector[k]
            if not gets:
                out.append(b"$%d\r\n%s\r\n" % (len(ele), ele))
            for pat in gets:
                val = lookup_by_pattern(db, pat, ele)
                out.append(null if val is None else b"$%d\r\n%s\r\n" % (len(val), val))
        return b"".join(out)

    result = RList()
    for k in range(start, end + 1):
        ele = vector[k]
        if not gets:
            result.append(ele)
        else:
            for pat in gets:
                val = lookup_by_pattern(db, pat, ele)
                result.append(b"" if val is None else val)
    srv = db.server
    if outputlen:
        if db.expires and storekey in db.expires:
            db.lookup(storekey)
        db.set(storekey, result)
        if srv.notify_flags & NOTIFY_LIST:
            srv.notify(NOTIFY_LIST, b"sortstore", storekey, db.id)
        srv.dirty += outputlen
    elif db.delete(storekey):
        db.touch(storekey)
        if srv.notify_flags & NOTIFY_GENERIC:
            srv.notify(NOTIFY_GENERIC, b"del", storekey, db.id)
        srv.dirty += 1
    return integer(outputlen)


def _do_sort(c, db, vector, sortby, alpha, desc, store, start, end):
    n = len(vector)
    if alpha:
        if sortby is None:
            if store:
                return sorted(vector, reverse=desc)
            return sorted(vector, key=_cstr, reverse=desc)
        keyed = []
        for ele in vector:
            w = lookup_by_pattern(db, sortby, ele)
            if w is None:
                keyed.append(((0, b""), ele))
            else:
                keyed.append(((1, w if store else _cstr(w)), ele))
        if start != 0 or end != n - 1:
            if desc:
                def cmp(x, y):
                    return (x[0] < y[0]) - (x[0] > y[0])
            else:
                def cmp(x, y):
                    return (x[0] > y[0]) - (x[0] < y[0])
            pqsort(keyed, cmp, start, end)
        else:
            keyed.sort(key=lambda t: t[0], reverse=desc)
        return [e for _, e in keyed]
    if sortby is None and all(map(_PLAIN_NUMBER, vector)):
        keyed = list(zip(map(float, vector), vector))
        keyed.sort(reverse=desc)
        return [e for _, e in keyed]
    keyed = []
    error = False
    for ele in vector:
        if sortby is not None:
            w = lookup_by_pattern(db, sortby, ele)
            if w is None:
                keyed.append((0.0, ele))
                continue
        else:
            w = ele
        score = strtod_score(w)
        if score is None:
            error = True
            score = 0.0
        keyed.append((score, ele))
    if error:
        raise CommandError("ERR One or more scores can't be converted into double")
    keyed.sort(reverse=desc)
    return [e for _, e in keyed]


def _sort_getkeys(argv):
    """sortGetKeys: the sorted key, plus the last STORE target."""
    keys = [(1, ["RO", "ACCESS"])]
    store = None
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    argc = len(argv)
    while i < argc:
        a = argv[i].lower()
        n = skip.get(a)
        if n is not None:
            i += n
        elif a == b"store" and i + 1 < argc:
            store = i + 1
        i += 1
    if store is not None:
        keys.append((store, ["OW", "UPDATE"]))
    return keys


@command("sort", getkeys=_sort_getkeys)
def sort(c, argv):
    return _sort_generic(c, argv, False)


@command("sort_ro", getkeys=lambda argv: [(1, ["RO", "ACCESS"])])
def sort_ro(c, argv):
    return _sort_generic(c, argv, True)
