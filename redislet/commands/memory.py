"""MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP (object.c).

MEMORY USAGE estimates what Redis 7.0 (built with jemalloc) would allocate for the key:
robj and sds headers, dict tables and entries, listpack byte layouts, quicklist nodes,
intsets, skiplist nodes, stream listpacks and radix trees, each rounded up to jemalloc's
size classes, with Redis's sampling (SAMPLES n) and extrapolation. MEMORY STATS has
Redis's shape with the numbers INFO memory reports.
"""
import struct
from itertools import islice

from ..clientmem import je_size, _sds_hdr
from ..errors import CommandError, SYNTAX, NOT_INTEGER
from ..resp.encode import OK, integer, bulk
from ..types.rlist import RList
from ..types.stream import Stream, lp_str_size
from ..types.zset import ZSet
from ..util import parse_ll
from . import info as _info
from . import strings as _strings
from .hashes import Hash
from .help import help_reply
from .sets import RSet
from .table import command

SAMPLES_DEFAULT = 5
ROBJ = 16
DICT_ENTRY = 24
DICT = 56
QUICKLIST = 40
QUICKLIST_NODE = 40
ZSET = 16
ZSKIPLIST = 32
ZSL_HEADER = 24 + 32 * 16        # zskiplistNode with ZSKIPLIST_MAXLEVEL levels
ZSL_NODE_AVG = 52                # average allocation of a node (random levels, p=0.25)
STREAM = 80
STREAM_ID = 16
RAX_NODE = 4
STREAM_CG = 40
STREAM_NACK = 24
STREAM_CONSUMER = 24
LP_EMPTY = 7                     # listpack header + terminator
STREAM_PREALLOC = 4096           # STREAM_LISTPACK_MAX_PRE_ALLOCATE
SIZE_SAFETY_LIMIT = 8192
SIZE_ESTIMATE_OVERHEAD = 8
_OPT_LEVELS = (4096, 8192, 16384, 32768, 65536)


def sds_size(n, type5=True):
    """sdsZmallocSize of an sds of length n created exactly (sdsnewlen)."""
    hdr = 1 if (type5 and 0 < n < 32) else _sds_hdr(n)
    return je_size(hdr + n + 1)


def _hll_sparse_alloc(n):
    """sds allocation of a sparse HLL of n bytes: sdsMakeRoomFor(3) grows it greedily
    from the 18 bytes createHLLObject allocates."""
    alloc = 18
    usable = je_size(1 + 18 + 1)
    while n + 3 > alloc:
        newlen = (alloc + 1) * 2
        hdr = _sds_hdr(newlen)
        usable = je_size(hdr + newlen + 1)
        alloc = usable - hdr - 1
    return usable


def string_size(v):
    enc = _strings.string_encoding(v)
    if enc == b"int":
        return ROBJ
    n = len(v)
    if enc == b"embstr":
        return je_size(ROBJ + 3 + n + 1)
    if n >= 18 and v[:4] == b"HYLL" and v[4] == 1:
        return _hll_sparse_alloc(n) + ROBJ
    return sds_size(n) + ROBJ


def _slots(n):
    if n <= 4:
        return 4
    return 1 << (n - 1).bit_length()


def _lp_bytes(items):
    return LP_EMPTY + sum(lp_str_size(x) for x in items)


def _score_str(s):
    """d2string, as zzlInsertAt formats a score for the listpack."""
    if s != s:
        return b"nan"
    if s in (float("inf"), float("-inf")):
        return b"inf" if s > 0 else b"-inf"
    if s == 0:
        return b"-0" if str(s)[0] == "-" else b"0"
    if -4503599627370495 < s < 4503599627370496 and s == int(s):
        return b"%d" % int(s)
    return b"%.17g" % s


def _sample_avg(sizes_iter, samples, total):
    elesize = 0
    n = 0
    for sz in sizes_iter:
        if n >= samples:
            break
        elesize += sz
        n += 1
    if not n:
        return 0.0
    return elesize / n * total


def _spread(items, n, samples):
    """Up to `samples` elements of a hash table, spread over it: Redis samples the first
    ones in its (pseudo random) table order; insertion order would bias the estimate."""
    if samples >= n:
        return items
    return islice(items, 0, None, max(n // samples, 1))


def _list_nodes(lst, fill):
    """Listpack byte sizes of the quicklist nodes holding the list (appended in order)."""
    nodes = []
    sz = 0
    count = 0
    for ele in lst:
        n = len(ele)
        if count:
            new_sz = sz + n + SIZE_ESTIMATE_OVERHEAD
            if fill >= 0:
                exceeds = count + 1 > fill or new_sz > SIZE_SAFETY_LIMIT
            else:
                exceeds = new_sz > _OPT_LEVELS[min(-fill, 5) - 1]
            if exceeds:
                nodes.append(sz)
                sz = 0
                count = 0
        if not count:
            sz = LP_EMPTY
        sz += lp_str_size(ele)
        count += 1
    if count:
        nodes.append(sz)
    return nodes


def _intset_size(s):
    enc = 2
    for m in s:
        v = int(m)
        if not -32768 <= v <= 32767:
            if -2147483648 <= v <= 2147483647:
                enc = 4
            else:
                enc = 8
                break
    return je_size(8 + len(s) * enc)


def _rax_size(numele):
    """streamRadixTreeMemoryUsage; the node count of a radix tree of 16-byte big-endian
    IDs is estimated as a shared prefix node, a branch, and a tail + leaf per key."""
    numnodes = 1 if not numele else 2 if numele == 1 else 2 + 2 * numele
    return numele * STREAM_ID + numnodes * RAX_NODE + numnodes * 8 * 30


def object_size(srv, v, samples):
    """objectComputeSize."""
    cfg = srv.config.values
    t = type(v)
    if t is bytes:
        return string_size(v)
    if t is RList:
        nodes = _list_nodes(v, cfg["list-max-listpack-size"]) if v else [LP_EMPTY]
        asize = ROBJ + QUICKLIST
        return int(asize + _sample_avg((QUICKLIST_NODE + je_size(n) for n in nodes),
                                       samples, len(nodes)))
    if t is RSet:
        if not v.ht:
            return ROBJ + _intset_size(v)
        asize = ROBJ + DICT + 8 * _slots(len(v))
        return int(asize + _sample_avg(
            (DICT_ENTRY + sds_size(len(m)) for m in _spread(v, len(v), samples)),
            samples, len(v)))
    if t is ZSet:
        if v.listpack:
            items = []
            for m, s in v.items():
                items.append(m)
                items.append(_score_str(s))
            return ROBJ + je_size(_lp_bytes(items))
        asize = (ROBJ + ZSET + ZSKIPLIST + DICT + 8 * _slots(len(v)) + je_size(ZSL_HEADER))
        return int(asize + _sample_avg(
            (sds_size(len(m)) + DICT_ENTRY + ZSL_NODE_AVG for m in v.iter_members()),
            samples, len(v)))
    if t is Hash:
        if not v.ht:
            n = LP_EMPTY
            for f, x in v.items():
                n += lp_str_size(f) + lp_str_size(x)
            return ROBJ + je_size(n)
        asize = ROBJ + DICT + 8 * _slots(len(v))
        return int(asize + _sample_avg(
            (sds_size(len(f)) + sds_size(len(x)) + DICT_ENTRY
             for f, x in _spread(v.items(), len(v), samples)),
            samples, len(v)))
    if t is Stream:
        return _stream_size(srv, v, samples)
    return ROBJ


def _stream_size(srv, s, samples):
    cfg = srv.config.values
    prealloc = STREAM_PREALLOC
    mb = cfg["stream-node-max-bytes"]
    if 0 < mb < prealloc:
        prealloc = mb
    nodes = s.nodes
    asize = ROBJ + STREAM + _rax_size(len(nodes))
    # closed nodes were shrunk to fit; the last one keeps its preallocation
    last = len(nodes) - 1
    sizes = [je_size(max(n.nbytes, prealloc) if i == last else n.nbytes)
             for i, n in enumerate(nodes[:max(samples, 1)])]
    if len(nodes) <= len(sizes):
        asize += sum(sizes[:len(nodes)])
    else:
        lpsize = sum(sizes) // len(sizes) if sizes else 0
        asize += lpsize * (len(nodes) - 1)
        asize += je_size(max(nodes[-1].nbytes, prealloc))
    if s.groups:
        for g in s.groups.values():
            asize += STREAM_CG + _rax_size(len(g.pel)) + STREAM_NACK * len(g.pel)
            for cons in g.consumers.values():
                asize += STREAM_CONSUMER + len(cons.name) + _rax_size(len(cons.pel))
    return asize


def key_usage(srv, key, v, samples):
    return object_size(srv, v, samples) + sds_size(len(key)) + DICT_ENTRY


# -- commands ----------------------------------------------------------------------------
@command("memory|help")
def memory_help(c, argv):
    return help_reply(argv, [
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    ])


@command("memory|usage")
def memory_usage(c, argv):
    samples = SAMPLES_DEFAULT
    j = 3
    n = len(argv)
    while j < n:
        if argv[j].lower() == b"samples" and j + 1 < n:
            samples = parse_ll(argv[j + 1])
            if samples is None:
                raise CommandError(NOT_INTEGER)
            if samples < 0:
                raise CommandError(SYNTAX)
            if samples == 0:
                samples = (1 << 63) - 1
            j += 2
        else:
            raise CommandError(SYNTAX)
    key = argv[2]
    v = c.db.data.get(key)   # dictFind: no expiry check, no access time update
    if v is None:
        return c.r.null
    return integer(key_usage(c.server, key, v, samples))


def _float(x):
    """A C float widened to double (MEMORY STATS computes its ratios in float)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def overhead_data(srv):
    """getMemoryOverheadData, with INFO memory's numbers."""
    used = _info.used_memory(srv)
    peak = max(getattr(srv, "stat_peak_memory", used), used)
    startup = min(getattr(srv, "startup_memory", used), used)
    clients_slaves = 0
    clients_normal = srv.cmem.clients_memory()      # (clientmem.py)
    backlog = getattr(srv, "repl_backlog_histlen", 0) or 0
    lua = getattr(srv, "used_memory_scripts_eval", 0)
    functions = getattr(srv, "used_memory_functions", 0)
    total = startup + backlog + clients_slaves + clients_normal + lua + functions
    dbs = []
    keys = 0
    for d in srv.dbs:
        n = len(d.data)
        if not n:
            continue
        keys += n
        main = n * DICT_ENTRY + _slots(n) * 8 + n * ROBJ
        ne = len(d.expires)
        exp = ne * DICT_ENTRY + (_slots(ne) * 8 if ne else 0)
        dbs.append((d.id, main, exp))
        total += main + exp
    net = used - startup if used > startup else 1
    dataset = max(used - total, 0)
    return {
        "used": used, "peak": peak, "startup": startup, "backlog": backlog,
        "clients_slaves": clients_slaves, "clients_normal": clients_normal,
        "lua": lua, "functions": functions, "dbs": dbs, "total": total, "keys": keys,
        "bytes_per_key": net // keys if keys else 0, "dataset": dataset,
        "dataset_perc": _float(_float(dataset) * 100 / net),
        "peak_perc": _float(_float(used) * 100 / peak) if peak else 0.0,
    }


@command("memory|stats")
def memory_stats(c, argv):
    srv = c.server
    mh = overhead_data(srv)
    r = c.r
    used = mh["used"]

    def kv(name, val):
        return (bulk(name.encode()), integer(val))

    def kd(name, val):
        return (bulk(name.encode()), r.double(val))
    pairs = [kv("peak.allocated", mh["peak"]), kv("total.allocated", used),
             kv("startup.allocated", mh["startup"]),
             kv("replication.backlog", mh["backlog"]),
             kv("clients.slaves", mh["clients_slaves"]),
             kv("clients.normal", mh["clients_normal"]), kv("cluster.links", 0),
             kv("aof.buffer", 0), kv("lua.caches", mh["lua"]),
             kv("functions.caches", mh["functions"])]
    for dbid, main, exp in mh["dbs"]:
        pairs.append((bulk(b"db.%d" % dbid), r.map([
            kv("overhead.hashtable.main", main), kv("overhead.hashtable.expires", exp),
            kv("overhead.hashtable.slot-to-keys", 0)])))
    pairs += [kv("overhead.total", mh["total"]), kv("keys.count", mh["keys"]),
              kv("keys.bytes-per-key", mh["bytes_per_key"]),
              kv("dataset.bytes", mh["dataset"]),
              kd("dataset.percentage", mh["dataset_perc"]),
              kd("peak.percentage", mh["peak_perc"]),
              kv("allocator.allocated", used), kv("allocator.active", used),
              kv("allocator.resident", used),
              kd("allocator-fragmentation.ratio", 1.0),
              kv("allocator-fragmentation.bytes", 0),
              kd("allocator-rss.ratio", 1.0), kv("allocator-rss.bytes", 0),
              kd("rss-overhead.ratio", 1.0), kv("rss-overhead.bytes", 0),
              kd("fragmentation", 1.0), kv("fragmentation.bytes", 0)]
    return r.map(pairs)


_DOCTOR_EMPTY = (
    "Hi Sam, this instance is empty or is using very little memory, "
    "my issues detector can't be used in these conditions. "
    "Please, leave for your mission on Earth and fill it with some data. "
    "The new Sam and I will be back to our programming as soon as I "
    "finished rebooting.\n")
_DOCTOR_OK = ("Hi Sam, I can't find any memory issue in your instance. "
              "I can only account for what occurs on this base.\n")
_DOCTOR_PEAK = (
    " * Peak memory: In the past this instance used more than 150% the memory that is "
    "currently using. The allocator is normally not able to release memory after a peak, "
    "so you can expect to see a big fragmentation ratio, however this is actually harmless "
    "and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) "
    "is currently bigger than expected, the memory will be used as soon as you fill the "
    "Redis instance with more data. If the memory peak was only occasional and you want to "
    "try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other "
    "option is to shutdown and restart the instance.\n\n")
_DOCTOR_SLAVES = (
    " * Big replica buffers: The replica output buffers in this instance are greater than "
    "10MB for each replica (on average). This likely means that there is some replica "
    "instance that is struggling receiving data, either because it is too slow or because "
    "of networking issues. As a result, data piles on the master output buffers. Please try "
    "to identify what replica is not receiving data correctly and why. You can use the INFO "
    "output in order to check the replicas delays and the CLIENT LIST command to check the "
    "output buffers of each replica.\n\n")
_DOCTOR_CLIENTS = (
    " * Big client buffers: The clients output buffers in this instance are greater than "
    "200K per client (on average). This may result from different causes, like Pub/Sub "
    "clients subscribed to channels bot not receiving data fast enough, so that data piles "
    "on the Redis instance output buffer, or clients sending commands with large replies or "
    "very large sequences of commands in the same pipeline. Please use the CLIENT LIST "
    "command in order to investigate the issue if it causes problems in your instance, or "
    "to understand better why certain clients are using a big amount of memory.\n\n")
_DOCTOR_SCRIPTS = (
    " * Many scripts: There seem to be many cached scripts in this instance (more than "
    "1000). This may be because scripts are generated and `EVAL`ed, instead of being "
    "parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT "
    "FLUSH` is called periodically, the scripts' caches may end up consuming most of your "
    "memory.\n\n")


def doctor_report(srv):
    """getMemoryDoctorReport (the allocator ratios are 1: libc has no such counters)."""
    mh = overhead_data(srv)
    reports = []
    if mh["used"] < 5 * 1024 * 1024:
        return _DOCTOR_EMPTY
    if mh["peak"] / mh["used"] > 1.5:
        reports.append(_DOCTOR_PEAK)
    replicas = sum(1 for cl in srv.clients.values() if getattr(cl, "is_replica", False))
    normal = max(len(srv.clients) - replicas, 1)
    if mh["clients_normal"] // normal > 1024 * 200:
        reports.append(_DOCTOR_CLIENTS)
    if replicas and mh["clients_slaves"] > 1024 * 1024 * 10:
        reports.append(_DOCTOR_SLAVES)
    if getattr(srv, "number_of_cached_scripts", 0) > 1000:
        reports.append(_DOCTOR_SCRIPTS)
    if not reports:
        return _DOCTOR_OK
    return ("Sam, I detected a few issues in this Redis instance memory implants:\n\n"
            + "".join(reports) + "I'm here to keep you safe, Sam. I want to help you.\n")


@command("memory|doctor")
def memory_doctor(c, argv):
    return c.r.verbatim(doctor_report(c.server).encode())


@command("memory|malloc-stats")
def memory_malloc_stats(c, argv):
    # Redis built without jemalloc (mem_allocator:libc, as INFO says) answers this
    return bulk(b"Stats not supported for the current allocator")


@command("memory|purge")
def memory_purge(c, argv):
    return OK
