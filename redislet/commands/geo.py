"""Geospatial commands (Redis 7.0.15 geo.c) on top of sorted sets: GEOADD, GEOPOS, GEODIST,
GEOHASH, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER, GEORADIUS_RO,
GEORADIUSBYMEMBER_RO. Scores are Redis's 52-bit geohashes (see geohash.py).
"""
from .table import command
from .zsets import zadd_apply, store_result, _ZADD_OPTS
from ..pqsort import pqsort
from .. import geohash as gh
from ..errors import CommandError, WRONGTYPE, SYNTAX, NOT_INTEGER, NOT_FLOAT
from ..resp.encode import ZERO, EMPTY_ARRAY
from ..types.zset import ZSet, str2d
from ..util import parse_ll


def _lookup_read(c, key):
    v = c.db.lookup_read(key)
    if v is not None and type(v) is not ZSet:
        raise CommandError(WRONGTYPE)
    return v


def extract_lonlat(argv, i):
    """extractLongLatOrReply: (longitude, latitude) from argv[i], argv[i+1]."""
    lon = str2d(argv[i])
    if lon is None:
        raise CommandError(NOT_FLOAT)
    lat = str2d(argv[i + 1])
    if lat is None:
        raise CommandError(NOT_FLOAT)
    if (lon < gh.GEO_LONG_MIN or lon > gh.GEO_LONG_MAX
            or lat < gh.GEO_LAT_MIN or lat > gh.GEO_LAT_MAX):
        raise CommandError("ERR invalid longitude,latitude pair %f,%f" % (lon, lat))
    return lon, lat


_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


def extract_unit(b):
    u = _UNITS.get(b.lower())
    if u is None:
        raise CommandError("ERR unsupported unit provided. please use M, KM, FT, MI")
    return u


def extract_distance(argv, i):
    d = str2d(argv[i])
    if d is None:
        raise CommandError("ERR need numeric radius")
    if d < 0:
        raise CommandError("ERR radius cannot be negative")
    return d, extract_unit(argv[i + 1])


def extract_box(argv, i):
    w = str2d(argv[i])
    if w is None:
        raise CommandError("ERR need numeric width")
    h = str2d(argv[i + 1])
    if h is None:
        raise CommandError("ERR need numeric height")
    if h < 0 or w < 0:
        raise CommandError("ERR height or width cannot be negative")
    return w, h, extract_unit(argv[i + 2])


def _member_pos(zs, member):
    s = zs.dict.get(member)
    if s is None:
        return None
    return gh.decode_score(s)


# -- GEOADD -------------------------------------------------------------------------------
@command("geoadd")
def geoadd(c, argv):
    n = len(argv)
    longidx = 2
    xx = nx = False
    while longidx < n:
        opt = argv[longidx].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"ch":
            pass
        else:
            break
        longidx += 1
    if (n - longidx) % 3 or (xx and nx):
        raise CommandError(SYNTAX)
    flags = 0
    for a in argv[2:longidx]:
        flags |= _ZADD_OPTS[a.lower()]
    scores = []
    members = argv[longidx + 2::3]
    enc = gh.encode_score
    for i in range(longidx, n, 3):
        lon, lat = extract_lonlat(argv, i)
        scores.append(enc(lon, lat))
    srv = c.server
    dirty = srv.dirty
    try:
        return zadd_apply(c, argv[1], flags, [float(x) for x in scores], members)
    finally:
        if srv.dirty != dirty:
            # propagated as the ZADD it turns into (replaceClientCommandVector)
            zargv = [b"zadd"]
            zargv.extend(argv[1:longidx])
            for sc, m in zip(scores, members):
                zargv.append(b"%d" % sc)
                zargv.append(m)
            c.prop_override = [zargv]


# -- GEOPOS / GEODIST / GEOHASH -----------------------------------------------------------
@command("geopos")
def geopos(c, argv):
    zs = _lookup_read(c, argv[1])
    r = c.r
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    d = zs.dict if zs is not None else {}
    for m in argv[2:]:
        s = d.get(m)
        xy = gh.decode_score(s) if s is not None else None
        if xy is None:
            parts.append(r.null_array)
        else:
            parts.append(b"*2\r\n")
            parts.append(r.human_double(_human(xy[0])))
            parts.append(r.human_double(_human(xy[1])))
    return b"".join(parts)


def _human(d):
    s = b"%.17f" % d
    s = s.rstrip(b"0")
    if s.endswith(b"."):
        s = s[:-1]
    if s == b"-0":
        s = b"0"
    return s


@command("geodist")
def geodist(c, argv):
    to_meter = 1.0
    if len(argv) == 5:
        to_meter = extract_unit(argv[4])
    elif len(argv) > 5:
        raise CommandError(SYNTAX)
    zs = _lookup_read(c, argv[1])
    if zs is None:
        return c.r.null
    s1 = zs.dict.get(argv[2])
    s2 = zs.dict.get(argv[3]) if s1 is not None else None
    if s2 is None:
        return c.r.null
    a = gh.decode_score(s1)
    b = gh.decode_score(s2)
    if a is None or b is None:
        return c.r.null
    v = gh.fixed4(gh.distance(a[0], a[1], b[0], b[1]) / to_meter)
    return b"$%d\r\n%s\r\n" % (len(v), v)


@command("geohash")
def geohash(c, argv):
    zs = _lookup_read(c, argv[1])
    r = c.r
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    d = zs.dict if zs is not None else {}
    for m in argv[2:]:
        s = d.get(m)
        h = gh.geohash_string(s) if s is not None else None
        parts.append(r.null if h is None else b"$11\r\n%s\r\n" % h)
    return b"".join(parts)


# -- searches -----------------------------------------------------------------------------
RADIUS_COORDS = 1
RADIUS_MEMBER = 2
RADIUS_NOSTORE = 4
GEOSEARCH = 8
GEOSEARCHSTORE = 16


def _points_in_box(zs, bits, step, shape, out, limit):
    """membersOfGeoHashBox: append (dist, score, member, lon, lat) of the points in box."""
    lo_score = float(gh.align52(bits, step))
    hi_score = float(gh.align52(bits + 1, step))
    within = gh.within_shape
    for score, member in zs.iter_from(zs.bisect_score(lo_score)):
        if score >= hi_score:
            break
        p = within(shape, score)
        if p is not None:
            out.append((p[2], score, member, p[0], p[1]))
        if out and limit and len(out) >= limit:
            break


def _search(zs, shape, limit):
    areas = gh.search_areas(shape)
    out = []
    last = None
    for i, (bits, step) in enumerate(areas):
        if bits == 0 and step == 0:
            continue
        if last is not None and areas[last] == (bits, step):
            continue
        if out and limit and len(out) >= limit:
            break
        _points_in_box(zs, bits, step, shape, out, limit)
        last = i
    return out


def georadius_generic(c, argv, src_idx, flags):
    storekey = None
    storedist = False
    zs = _lookup_read(c, argv[src_idx])
    shape = gh.Shape()
    if flags & RADIUS_COORDS:
        base_args = 6
        shape.circular = True
        shape.lon, shape.lat = extract_lonlat(argv, 2)
        shape.radius, shape.conversion = extract_distance(argv, base_args - 2)
    elif flags & RADIUS_MEMBER and zs is None:
        base_args = 5
    elif flags & RADIUS_MEMBER:
        base_args = 5
        shape.circular = True
        xy = _member_pos(zs, argv[2])
        if xy is None:
            raise CommandError("ERR could not decode requested zset member")
        shape.lon, shape.lat = xy
        shape.radius, shape.conversion = extract_distance(argv, base_args - 2)
    else:
        base_args = 2
        if flags & GEOSEARCHSTORE:
            base_args = 3
            storekey = argv[1]
    withdist = withhash = withcoords = False
    frommember = fromloc = byradius = bybox = False
    sort = 0
    any_ = False
    count = 0
    n = len(argv)
    remaining = n - base_args
    i = 0
    while i < remaining:
        arg = argv[base_args + i].lower()
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoords = True
        elif arg == b"any":
            any_ = True
        elif arg == b"asc":
            sort = 1
        elif arg == b"desc":
            sort = 2
        elif arg == b"count" and i + 1 < remaining:
            count = parse_ll(argv[base_args + i + 1])
            if count is None:
                raise CommandError(NOT_INTEGER)
            if count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif (arg == b"store" and i + 1 < remaining and not flags & RADIUS_NOSTORE
              and not flags & GEOSEARCH):
            storekey = argv[base_args + i + 1]
            storedist = False
            i += 1
        elif (arg == b"storedist" and i + 1 < remaining and not flags & RADIUS_NOSTORE
              and not flags & GEOSEARCH):
            storekey = argv[base_args + i + 1]
            storedist = True
            i += 1
        elif arg == b"storedist" and flags & GEOSEARCH and flags & GEOSEARCHSTORE:
            storedist = True
        elif (arg == b"frommember" and i + 1 < remaining and flags & GEOSEARCH
              and not fromloc):
            if zs is None:
                frommember = True
                i += 2
                continue
            xy = _member_pos(zs, argv[base_args + i + 1])
            if xy is None:
                raise CommandError("ERR could not decode requested zset member")
            shape.lon, shape.lat = xy
            frommember = True
            i += 1
        elif (arg == b"fromlonlat" and i + 2 < remaining and flags & GEOSEARCH
              and not frommember):
            shape.lon, shape.lat = extract_lonlat(argv, base_args + i + 1)
            fromloc = True
            i += 2
        elif (arg == b"byradius" and i + 2 < remaining and flags & GEOSEARCH
              and not bybox):
            shape.radius, shape.conversion = extract_distance(argv, base_args + i + 1)
            shape.circular = True
            byradius = True
            i += 2
        elif (arg == b"bybox" and i + 3 < remaining and flags & GEOSEARCH
              and not byradius):
            shape.width, shape.height, shape.conversion = extract_box(argv, base_args + i + 1)
            shape.circular = False
            bybox = True
            i += 3
        else:
            raise CommandError(SYNTAX)
        i += 1
    if storekey is not None and (withdist or withhash or withcoords):
        raise CommandError("ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD "
                           "options" % ("GEOSEARCHSTORE" if flags & GEOSEARCHSTORE
                                        else "STORE option in GEORADIUS"))
    name = argv[0].decode("utf-8", "replace")
    if flags & GEOSEARCH and not (frommember or fromloc):
        raise CommandError("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified "
                           "for %s" % name)
    if flags & GEOSEARCH and not (byradius or bybox):
        raise CommandError("ERR exactly one of BYRADIUS and BYBOX can be specified for %s"
                           % name)
    if any_ and not count:
        raise CommandError("ERR the ANY argument requires COUNT argument")
    db = c.db
    srv = c.server
    if zs is None:
        if storekey is not None:
            if db.delete(storekey):
                db.touch(storekey)
                if srv.notify_flags & 4:
                    srv.notify(4, b"del", storekey, db.id)
                srv.dirty += 1
            return ZERO
        return EMPTY_ARRAY
    if count and sort == 0 and not any_:
        sort = 1
    found = _search(zs, shape, count if any_ else 0)
    if not found and storekey is None:
        return EMPTY_ARRAY
    result_length = len(found)
    returned = result_length if (count == 0 or result_length < count) else count
    if sort:
        if returned == result_length:
            # glibc qsort (a stable merge sort for arrays this size)
            found.sort(key=_dist, reverse=sort == 2)
        else:
            pqsort(found, _cmp_asc if sort == 1 else _cmp_desc, 0, returned - 1)
    conv = shape.conversion
    if storekey is None:
        r = c.r
        opt_len = withdist + withcoords + withhash
        parts = [b"*%d\r\n" % returned]
        for k in range(returned):
            dist, score, member, lon, lat = found[k]
            if opt_len:
                parts.append(b"*%d\r\n" % (opt_len + 1))
            parts.append(b"$%d\r\n%s\r\n" % (len(member), member))
            if withdist:
                v = gh.fixed4(dist / conv)
                parts.append(b"$%d\r\n%s\r\n" % (len(v), v))
            if withhash:
                parts.append(b":%d\r\n" % int(score))
            if withcoords:
                parts.append(b"*2\r\n")
                parts.append(r.human_double(_human(lon)))
                parts.append(r.human_double(_human(lat)))
        return b"".join(parts)
    items = {}
    for k in range(returned):
        dist, score, member, lon, lat = found[k]
        items[member] = dist / conv if storedist else score
    if items:
        zset_items = sorted((s, m) for m, s in items.items())
        event = b"geosearchstore" if flags & GEOSEARCH else b"georadiusstore"
        store_result(c, storekey, zset_items, event)
        srv.dirty += returned - 1
    else:
        store_result(c, storekey, (), None)
    return b":%d\r\n" % returned


def _dist(p):
    return p[0]


def _cmp_asc(a, b):
    da = a[0]
    db = b[0]
    return 1 if da > db else (0 if da == db else -1)


def _cmp_desc(a, b):
    return -_cmp_asc(a, b)


@command("georadius")
def georadius(c, argv):
    return georadius_generic(c, argv, 1, RADIUS_COORDS)


@command("georadiusbymember")
def georadiusbymember(c, argv):
    return georadius_generic(c, argv, 1, RADIUS_MEMBER)


@command("georadius_ro")
def georadius_ro(c, argv):
    return georadius_generic(c, argv, 1, RADIUS_COORDS | RADIUS_NOSTORE)


@command("georadiusbymember_ro")
def georadiusbymember_ro(c, argv):
    return georadius_generic(c, argv, 1, RADIUS_MEMBER | RADIUS_NOSTORE)


@command("geosearch")
def geosearch(c, argv):
    return georadius_generic(c, argv, 1, GEOSEARCH)


@command("geosearchstore")
def geosearchstore(c, argv):
    return georadius_generic(c, argv, 2, GEOSEARCH | GEOSEARCHSTORE)
