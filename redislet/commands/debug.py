"""DEBUG (debug.c debugCommand). Only reachable when enable-debug-command allows it.

Other families add subcommands with `debug.subcommands["reload"] = fn(c, argv) -> reply`.
"""
import os
import time

from .table import command
from .help import help_reply
from ..db import idle_ms, lru_field
from ..errors import CommandError
from ..resp.encode import OK, bulk, integer

subcommands = {}   # lower-case name (bytes) -> handler(c, argv) (argv includes DEBUG)

_HELP = [
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
]


def _syntax_error(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                        "Try %s HELP." % (argv[1].decode("utf-8", "replace"),
                                          argv[0].decode("utf-8", "replace").upper()))


def _atoi(b):
    """C atoi: leading whitespace, optional sign, digits; 0 when none."""
    s = b.lstrip(b" \t\n\v\f\r")
    i = 1 if s[:1] in (b"+", b"-") else 0
    j = i
    while j < len(s) and 48 <= s[j] <= 57:
        j += 1
    if j == i:
        return 0
    v = int(s[:j])
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def _strtod(b):
    """strtod prefix parsing: the longest numeric prefix, 0.0 when none."""
    s = b.lstrip(b" \t\n\v\f\r").decode("latin-1")
    best = 0.0
    for end in range(len(s), 0, -1):
        try:
            best = float(s[:end])
            break
        except ValueError:
            continue
    return best


@command("debug")
def debug(c, argv):
    sub = argv[1].lower()
    n = len(argv)
    if n == 2 and sub == b"help":
        return help_reply(argv, _HELP)
    fn = subcommands.get(sub)
    if fn is not None:
        reply = fn(c, argv)
        if reply is not NotImplemented:
            return reply
    raise _syntax_error(argv)


def _sub(name, nargs=None):
    """Register a DEBUG subcommand; nargs: the exact argc it accepts (None: any)."""
    def deco(fn):
        def run(c, argv):
            if nargs is not None and len(argv) not in (
                    nargs if isinstance(nargs, tuple) else (nargs,)):
                return NotImplemented
            return fn(c, argv)
        subcommands[name] = run
        return fn
    return deco


@_sub(b"sleep", 3)
def _sleep(c, argv):
    usec = int(_strtod(argv[2]) * 1000000)
    if usec > 0:
        time.sleep(usec / 1000000.0)
    return OK


@_sub(b"set-active-expire", 3)
def _set_active_expire(c, argv):
    c.server.active_expire_enabled = bool(_atoi(argv[2]))
    return OK


@_sub(b"change-repl-id", 2)
def _change_repl_id(c, argv):
    srv = c.server
    srv.log("warning", "Changing replication IDs after receiving DEBUG change-repl-id")
    hook = getattr(srv, "change_replication_id", None)
    if hook is not None:
        hook()
    else:
        srv.replid = os.urandom(20).hex()
        srv.replid2 = "0" * 40
        srv.second_replid_offset = -1
    return OK


def _string_encoding(v):
    from ..util import parse_ll
    if len(v) <= 20:
        n = parse_ll(v)
        if n is not None:
            return "int"
    return "embstr" if len(v) <= 44 else "raw"


def _encoding(v):
    try:
        from .keys import object_encoding
        enc = object_encoding(v)
        return enc.decode() if isinstance(enc, bytes) else str(enc)
    except Exception:  # noqa: BLE001 - the keys module may not be loaded
        return _string_encoding(v) if isinstance(v, bytes) else "unknown"


def _serialized_length(v):
    """An estimate of rdbSavedObjectLen."""
    if isinstance(v, bytes):
        return len(v) + (1 if len(v) < 64 else 2 if len(v) < 16384 else 5)
    try:
        return sum(len(x) + 1 if isinstance(x, bytes) else 9 for x in v) + 1
    except TypeError:
        return 1


def _addr(v):
    if type(v) is bytes:
        from .strings import object_address   # INCR's in-place changes keep the address
        return object_address(v)
    return id(v)


@_sub(b"object", 3)
def _object(c, argv):
    db = c.db
    v = db.data.get(argv[2])
    if v is None:
        raise CommandError("ERR no such key")
    srv = c.server
    now = srv.lru_clock
    word = db.access_clock(argv[2], now)
    lru = lru_field(word)
    idle = idle_ms(word, now) // 1000
    extra = ""
    enc = _encoding(v)
    if enc == "quicklist":
        count = len(v) if hasattr(v, "__len__") else 0
        nodes = max(1, (count + 127) // 128)
        fill = srv.config.values.get("list-max-listpack-size", -2)
        extra = (" ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d "
                 "ql_uncompressed_size:%d" % (
                     nodes, count / nodes, fill,
                     int(srv.config.values.get("list-compress-depth", 0) != 0),
                     _serialized_length(v)))
    return b"+Value at:0x%x refcount:1 encoding:%s serializedlength:%d lru:%d " \
           b"lru_seconds_idle:%d%s\r\n" % (_addr(v), enc.encode(), _serialized_length(v), lru,
                                          idle, extra.encode())


@_sub(b"protocol", 3)
def _protocol(c, argv):
    name = argv[2].lower()
    r = c.r
    if name == b"string":
        return bulk(b"Hello World")
    if name == b"integer":
        return integer(12345)
    if name == b"double":
        return r.double(3.141)
    if name == b"bignum":
        return r.bignum(b"1234567999999999999999999999999999999")
    if name == b"null":
        return r.null
    if name == b"array":
        return b"*3\r\n:0\r\n:1\r\n:2\r\n"
    if name == b"set":
        return r.set_header(3) + b":0\r\n:1\r\n:2\r\n"
    if name == b"map":
        return r.map([(integer(j), r.true if j == 1 else r.false) for j in range(3)])
    if name == b"attrib":
        out = b""
        if c.resp >= 3:
            out = r.attribute_header(1) + bulk(b"key-popularity") + b"*2\r\n" \
                + bulk(b"key:123") + integer(90)
        return out + bulk(b"Some real reply following the attribute")
    if name == b"push":
        if c.resp < 3:
            raise CommandError("ERR RESP2 is not supported by this command")
        return (r.push_header(2) + bulk(b"server-cpu-usage") + integer(42)
                + bulk(b"Some real reply following the push reply"))
    if name == b"true":
        return r.true
    if name == b"false":
        return r.false
    if name == b"verbatim":
        return r.verbatim(b"This is a verbatim\nstring")
    raise CommandError("ERR Wrong protocol type name. Please use one of the following: "
                       "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|"
                       "true|false")


@_sub(b"log", 3)
def _log(c, argv):
    c.server.log("warning", "DEBUG LOG: %s" % argv[2].decode("utf-8", "replace"))
    return OK


@_sub(b"error", 3)
def _error(c, argv):
    return b"-" + argv[2].replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"


@_sub(b"config-rewrite-force-all", 2)
def _rewrite_all(c, argv):
    cfg = c.server.config
    if cfg.config_file is None:
        raise CommandError("ERR CONFIG-REWRITE-FORCE-ALL failed: The server is running "
                           "without a config file")
    from ..config import ConfigError
    try:
        cfg.rewrite(cfg.config_file, force_write=True)
    except ConfigError as e:
        raise CommandError("ERR CONFIG-REWRITE-FORCE-ALL failed: %s" % e) from None
    return OK


@_sub(b"pause-cron", 3)
def _pause_cron(c, argv):
    c.server.cron_paused = bool(_atoi(argv[2]))
    return OK


@_sub(b"stringmatch-test", 2)
def _stringmatch_test(c, argv):
    return b"+Apparently Redis did not crash: test passed\r\n"


# -- POPULATE -----------------------------------------------------------------------------
_POSITIVE = "ERR value is out of range, must be positive"


def _positive_long(b):
    """getPositiveLongFromObjectOrReply with its default message (also for non-numbers)."""
    from ..util import parse_ll
    v = parse_ll(b)
    if v is None or v < 0:
        raise CommandError(_POSITIVE)
    return v


def _cstr(b):
    """The bytes a C string sees (stops at the first NUL)."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


@_sub(b"populate", (3, 4, 5))
def _populate(c, argv):
    n = _positive_long(argv[2])
    size = _positive_long(argv[4]) if len(argv) == 5 else 0
    prefix = b"key" if len(argv) == 3 else _cstr(argv[3])
    db = c.db
    srv = c.server
    data = db.data
    # snprintf into a 128-byte buffer: names longer than 127 bytes are cut (and may then
    # collide, the later ones being skipped as existing keys)
    long_names = len(prefix) + 2 + len(str(max(n - 1, 0))) > 127
    if size:
        def value(j):
            v = b"value:%d" % j
            return v[:size] if len(v) >= size else v + b"\0" * (size - len(v))
    else:
        value = b"value:%d".__mod__
    plain = (not long_names and not db.watched and not db.blocking
             and srv.key_modified_hook is None and not srv.notify_flags & 16384)
    if plain:
        # the common case (1M keys in well under a second): build all names at once
        keys = list(map((prefix.replace(b"%", b"%%") + b":%d").__mod__, range(n)))
        if not data or data.keys().isdisjoint(keys):
            data.update(zip(keys, map(value, range(n))))
            db.lru.update(dict.fromkeys(keys, srv.lru_new))
            db.keys_added(keys)
            return OK
    for j in range(n):
        k = b"%s:%d" % (prefix, j)
        if long_names:
            k = k[:127]
        if k in data and db.lookup(k) is not None:   # lookupKeyWrite (expires if due)
            continue
        db.add(k, value(j))    # dbAdd + signalModifiedKey; not propagated, no dirty++
    return OK


# -- DIGEST / DIGEST-VALUE ------------------------------------------------------------------
# debug.c: xorDigest (digest ^= SHA1(data)) and mixDigest (digest = SHA1(digest ^
# SHA1(data))). Digests are kept as 160-bit ints between steps. Aggregates of unordered
# elements (zset/hash pairs, the keys of a db) xorDigest each element's own 20-byte
# digest, i.e. xor in SHA1(element digest), not the element digest itself.
_sha1 = __import__("hashlib").sha1
_from = int.from_bytes


def _mix(d, data):
    return _from(_sha1((d ^ _from(_sha1(data).digest(), "big")).to_bytes(20, "big")).digest(),
                 "big")


def _xor(d, data):
    return d ^ _from(_sha1(data).digest(), "big")


_OBJ_TYPES = {b"string": 0, b"list": 1, b"set": 2, b"zset": 3, b"hash": 4, b"stream": 6}
_TYPE_AUX = {k: v.to_bytes(4, "big") for k, v in _OBJ_TYPES.items()}   # htonl(o->type)
_EXPIRE_MARK = b"!!expire!!"
_STRING_AUX_HASH = _from(_sha1(_TYPE_AUX[b"string"]).digest(), "big")
_EXPIRE_HASH = _from(_sha1(_EXPIRE_MARK).digest(), "big")


def _object_digest(db, key, v, d):
    """xorObjectDigest: mixes the value of key into digest d (an int) and returns it."""
    from ..db import TYPE_NAMES
    tname = TYPE_NAMES.get(type(v))
    d = _mix(d, _TYPE_AUX[tname])
    if tname == b"string":
        d = _mix(d, v)
    elif tname == b"list":
        for e in v:
            d = _mix(d, e)
    elif tname == b"set":
        for e in v:        # intset members come out in their canonical decimal form
            d = _xor(d, e)
    elif tname == b"zset":
        for m, s in v.dict.items():
            # listpack or skiplist, the member then the score as "%.17g"
            d = _xor(d, _mix(_mix(0, m), b"%.17g" % s).to_bytes(20, "big"))
    elif tname == b"hash":
        for f, val in v.items():
            d = _xor(d, _mix(_mix(0, f), val).to_bytes(20, "big"))
    elif tname == b"stream":
        # the entries only (not groups or the last ID): "<ms>.<seq>" then the fields and
        # values in order
        for idk, fv in v.entries():
            d = _mix(d, b"%d.%d" % (idk >> 64, idk & 0xFFFFFFFFFFFFFFFF))
            for x in fv:
                d = _mix(d, x)
    if key in db.expires:
        d = _xor(d, _EXPIRE_MARK)
    return d


def dataset_digest(srv):
    """computeDatasetDigest: logically expired keys count too (no lookup)."""
    final = 0
    for db in srv.dbs:
        if not db.data:
            continue
        final = _mix(final, db.id.to_bytes(4, "big"))
        expires = db.expires
        sha1 = _sha1
        fb = _from
        aux = _STRING_AUX_HASH
        acc = 0
        for key, v in list(db.data.items()):
            if type(v) is bytes:
                # the string case of _object_digest, inlined (DIGEST after POPULATE of
                # millions of keys): mix(0, key), mix(type), mix(value) [, xor(expire)]
                d = fb(sha1(sha1(key).digest()).digest(), "big") ^ aux
                d = fb(sha1(d.to_bytes(20, "big")).digest(), "big") \
                    ^ fb(sha1(v).digest(), "big")
                d = sha1(d.to_bytes(20, "big")).digest()
                if key in expires:
                    d = (fb(d, "big") ^ _EXPIRE_HASH).to_bytes(20, "big")
            else:
                d = _object_digest(db, key, v, _mix(0, key)).to_bytes(20, "big")
            acc ^= fb(sha1(d).digest(), "big")    # xorDigest: the SHA1 of the key digest
        final ^= acc
    return final


def _hex(d):
    return b"%040x" % d


@_sub(b"digest", 2)
def _digest(c, argv):
    return b"+" + _hex(dataset_digest(c.server)) + b"\r\n"


@_sub(b"digest-value")
def _digest_value(c, argv):
    db = c.db
    out = [b"*%d\r\n" % (len(argv) - 2)]
    for key in argv[2:]:
        v = db.data.get(key)     # dictFind: logically expired keys are digested too
        d = 0 if v is None else _object_digest(db, key, v, 0)
        out.append(b"+" + _hex(d) + b"\r\n")
    return b"".join(out)


# -- settings that other modules read ---------------------------------------------------------
@_sub(b"set-skip-checksum-validation", 3)
def _skip_checksum(c, argv):
    # read by the RDB loader (persistence/rdb.py) and RESTORE (commands/persistence.py)
    c.server.skip_checksum_validation = bool(_atoi(argv[2]))
    return OK


@_sub(b"quicklist-packed-threshold", 3)
def _packed_threshold(c, argv):
    from ..config import memtoull
    from ..persistence import rdb
    sz = memtoull(argv[2])
    if sz is None or sz > (1 << 32) - (1 << 20):
        raise CommandError("ERR argument must be a memory value bigger than 1 and smaller "
                           "than 4gb")
    # a process-wide setting in Redis too (quicklist.c packed_threshold); redislet's lists
    # only materialise quicklist nodes when saving (RDB/DUMP), which reads it from there
    rdb.PACKED_THRESHOLD = sz or (1 << 30)
    return OK


@_sub(b"drop-cluster-packet-filter", 3)
def _drop_cluster_packet_filter(c, argv):
    from ..util import parse_ll
    v = parse_ll(argv[2])
    if v is None:
        raise CommandError("ERR value is not an integer or out of range")
    c.server.cluster_drop_packet_filter = v
    if c.server.cluster is not None:
        c.server.cluster.drop_packet_filter = v
    return OK


@_sub(b"clusterlink", 5)
def _clusterlink(c, argv):
    if argv[2].lower() != b"kill":
        raise _syntax_error(argv)
    cl = c.server.cluster
    if cl is None:
        raise CommandError("ERR Debug option only available for cluster mode enabled setup!")
    n = cl.lookup(argv[4])
    if n is None:
        raise CommandError("ERR Unknown node %s" % argv[4].decode("utf-8", "surrogateescape"))
    direction = argv[3].lower()
    if direction not in (b"from", b"to", b"all"):
        raise CommandError("ERR Unknown direction %s"
                           % argv[3].decode("utf-8", "surrogateescape"))
    links = {b"from": (n.inbound_link,), b"to": (n.link,),
             b"all": (n.link, n.inbound_link)}[direction]
    for link in links:
        if link is not None:
            cl.free_link(link)
    return OK


@_sub(b"replybuffer", 4)
def _replybuffer(c, argv):
    srv = c.server
    what = argv[2].lower()
    if what == b"peak-reset-time":
        val = argv[3].lower()
        if val == b"never":
            srv.reply_buffer_peak_reset_time = -1
        elif val == b"reset":
            srv.reply_buffer_peak_reset_time = 5000   # REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME
        else:
            from ..util import parse_ll
            v = parse_ll(argv[3])
            if v is None:
                raise CommandError("ERR value is not an integer or out of range")
            srv.reply_buffer_peak_reset_time = v
    elif what == b"resizing":
        srv.reply_buffer_resizing_enabled = bool(_atoi(argv[3]))
    else:
        raise _syntax_error(argv)
    # (the client cron resizes the modelled reply buffers: clientmem.py)
    return OK


@_sub(b"replicate")
def _replicate(c, argv):
    if len(argv) < 3:
        return NotImplemented
    # replicationFeedSlaves(server.slaves, server.slaveseldb, ...): the replicas and the
    # backlog only (not the AOF), without a SELECT; nothing when this is a replica or
    # there is no backlog yet
    repl = getattr(c.server, "repl", None)
    if repl is not None:
        repl.feed_command(list(argv[2:]))
    return OK


@_sub(b"leak", 3)
def _leak(c, argv):
    _leaked.append(bytes(argv[2]))    # sdsdup() never freed
    return OK


_leaked = []


# -- low-level structure reports ----------------------------------------------------------
@_sub(b"structsize", 2)
def _structsize(c, argv):
    # the sizes of Redis's C structures on a 64-bit build (the same as redis-server's)
    return bulk(b"bits:64 robj:16 dictentry:24 sdshdr5:1 sdshdr8:3 sdshdr16:5 sdshdr32:9 "
                b"sdshdr64:17 ")


def _next_pow2(n):
    size = 4                    # DICT_HT_INITIAL_SIZE
    while size < n:
        size <<= 1
    return size


def _dict_stats(keys, used, size=None):
    """dictGetStats (one table, never "rehashing"). Python dicts have no buckets, so the
    table size is the one Redis's growth rule gives for this many elements (unless size is
    given) and the chains are those of Python's hash() (SipHash, like Redis's dict hash,
    and per-process seeded too) over that many buckets: the same format with the closest
    numbers we have."""
    if used == 0:
        return ("Hash table 0 stats (main hash table):\n"
                "No stats available for empty dictionaries\n")
    if size is None:
        size = _next_pow2(used)
    mask = size - 1
    chains = {}
    for k in keys:
        b = hash(k) & mask
        chains[b] = chains.get(b, 0) + 1
    slots = len(chains)
    clvector = [0] * 50          # DICT_STATS_VECTLEN
    clvector[0] = size - slots
    for n in chains.values():
        clvector[min(n, 49)] += 1
    maxchain = max(chains.values())
    out = ["Hash table 0 stats (main hash table):\n"
           " table size: %d\n"
           " number of elements: %d\n"
           " different slots: %d\n"
           " max chain length: %d\n"
           " avg chain length (counted): %.02f\n"
           " avg chain length (computed): %.02f\n"
           " Chain length distribution:\n" % (size, used, slots, maxchain, used / slots,
                                               used / slots)]
    for i in range(49):
        if clvector[i]:
            out.append("   %d: %d (%.02f%%)\n" % (i, clvector[i], clvector[i] / size * 100))
    return "".join(out)[:4095]    # a 4096-byte buffer in Redis


@_sub(b"htstats", 3)
def _htstats(c, argv):
    from ..util import parse_ll
    dbid = parse_ll(argv[2])
    if dbid is None:
        raise CommandError("ERR value is not an integer or out of range")
    srv = c.server
    if dbid < 0 or dbid >= len(srv.dbs):
        raise CommandError("ERR Out of range database")
    db = srv.dbs[dbid]
    from ..dictmodel import keyspace_table_size    # sizes held while a child exists
    text = ("[Dictionary HT]\n"
            + _dict_stats(db.data, len(db.data), keyspace_table_size(srv, db, 0))
            + "[Expires HT]\n"
            + _dict_stats(db.expires, len(db.expires), keyspace_table_size(srv, db, 1)))
    return c.r.verbatim(text.encode())


def _lookup_or_nokey(c, key):
    """objectCommandLookupOrReply: a lookup that expires but does not touch."""
    v = c.db.peek(key)
    if v is None:
        raise CommandError("ERR no such key")
    return v


@_sub(b"htstats-key", 3)
def _htstats_key(c, argv):
    v = _lookup_or_nokey(c, argv[2])
    enc = _encoding(v)
    if enc == "skiplist":
        keys = v.dict
    elif enc == "hashtable":
        keys = v
        if isinstance(v, (set, frozenset)):
            # a set's dict: table sizes and rehashing followed from here on
            from .. import dictmodel
            return c.r.verbatim(dictmodel.model_for(v).stats().encode())
    else:
        raise CommandError("ERR The value stored at the specified key is not represented "
                           "using an hash table")
    return c.r.verbatim(_dict_stats(keys, len(keys)).encode())


def _malloc_usable(n):
    """glibc malloc_usable_size for a request of n bytes (redislet reports mem_allocator
    libc, so zmalloc sizes are glibc's chunk sizes)."""
    return max(24, ((n + 8 + 15) & ~15) - 8)


def _sds_hdr(n):
    return 1 if n < 32 else 3 if n < 256 else 5 if n < 65536 else 9 if n < (1 << 32) else 17


@_sub(b"sdslen", 3)
def _sdslen(c, argv):
    key = argv[2]
    v = c.db.data.get(key)        # dictFind: no expiry
    if v is None:
        raise CommandError("ERR no such key")
    if not isinstance(v, bytes) or _string_encoding(v) == "int":
        raise CommandError("ERR Not an sds encoded string.")
    # keys are exact-size sds copies; values as Redis stores them once trimmed (embstr:
    # robj and sdshdr8 in one allocation, raw: an exact sds). redislet keeps plain bytes,
    # so avail is 0 and the allocation sizes are computed, not measured.
    klen, vlen = len(key), len(v)
    kz = _malloc_usable(_sds_hdr(klen) + klen + 1)
    if vlen <= 44:
        vz = _malloc_usable(16 + 3 + vlen + 1) - 16
    else:
        vz = _malloc_usable(_sds_hdr(vlen) + vlen + 1)
    return (b"+key_sds_len:%d, key_sds_avail:0, key_zmalloc: %d, val_sds_len:%d, "
            b"val_sds_avail:0, val_zmalloc: %d\r\n" % (klen, kz, vlen, vz))


def _lp_elements(v, enc):
    if enc == "listpack":
        if isinstance(v, dict):           # hash: field, value in insertion order
            out = []
            for f, val in v.items():
                out.append(f)
                out.append(val)
            return out
        from ..types.zset import d2string
        out = []
        for m, s in v.items():            # zset: member, score in rank order
            out.append(m)
            out.append(d2string(s))
        return out
    return None


def _lp_repr(elements):
    """lpRepr on the listpack Redis would hold for these elements (addresses are
    fake: offsets from 0)."""
    from ..persistence.encodings import lp_str, lp_int
    parts = [lp_str(e) if type(e) is bytes else lp_int(e) for e in elements]
    total = 6 + sum(map(len, parts)) + 1
    out = ["{total bytes %d} {num entries %d}\n" % (total, len(parts))]
    off = 6
    for i, (e, p) in enumerate(zip(elements, parts)):
        b0 = p[0]
        hdr = 2 if b0 >> 4 == 0xE else 5 if b0 == 0xF0 else 1
        back = 1
        for blen in range(1, 6):
            enc = len(p) - blen
            if (enc <= 127 and blen == 1) or (127 < enc < 16383 and blen == 2) or \
                    (16383 <= enc < 2097151 and blen == 3) or \
                    (2097151 <= enc < 268435455 and blen == 4) or (enc >= 268435455):
                back = blen
                break
        encsz = len(p) - back
        s = e if type(e) is bytes else b"%d" % e
        out.append("{\n\taddr: 0x%08x,\n\tindex: %2d,\n\toffset: %1d,\n"
                   "\thdr+entrylen+backlen: %2d,\n\thdrlen: %3d,\n\tbacklen: %2d,\n"
                   "\tpayload: %1d\n" % (off, i, off, len(p), hdr, back, encsz - hdr))
        out.append("\tbytes: " + "".join("%02x|" % x for x in p) + "\n")
        out.append("\t[str]" + (s[:40].decode("latin-1") + "..." if len(s) > 40
                                else s.decode("latin-1")) + "\n}\n")
        off += len(p)
    out.append("{end}\n\n")
    return "".join(out)


def _stdout(text):
    import sys
    sys.stdout.write(text)
    sys.stdout.flush()


@_sub(b"listpack", 3)
def _listpack(c, argv):
    v = _lookup_or_nokey(c, argv[2])
    enc = _encoding(v)
    if enc != "listpack":
        raise CommandError("ERR Not a listpack encoded object.")
    _stdout(_lp_repr(_lp_elements(v, enc)))
    return b"+Listpack structure printed on stdout\r\n"


@_sub(b"quicklist", (3, 4))
def _quicklist(c, argv):
    v = _lookup_or_nokey(c, argv[2])
    full = _atoi(argv[3]) if len(argv) == 4 else 0
    if _encoding(v) != "quicklist":
        raise CommandError("ERR Not a quicklist encoded object.")
    from ..persistence import rdb
    fill = c.server.config.values.get("list-max-listpack-size", -2)
    compress = c.server.config.values.get("list-compress-depth", 0)
    # the nodes are those the RDB writer cuts the list into (the same fill rule as
    # quicklist inserts for a list built by pushes); compression state is not modelled
    maxbytes, maxcount = rdb._ql_limit(fill)
    nodes = []
    cur, size = [], 7
    for e in v:
        if len(e) >= rdb.PACKED_THRESHOLD:
            if cur:
                nodes.append(("PACKED", cur))
                cur, size = [], 7
            nodes.append(("PLAIN", [e]))
            continue
        es = rdb._lp_entry_size(e)
        if cur and (size + es > maxbytes or len(cur) >= maxcount):
            nodes.append(("PACKED", cur))
            cur, size = [], 7
        cur.append(e)
        size += es
    if cur:
        nodes.append(("PACKED", cur))
    from ..persistence.encodings import lp_build
    out = ["{count : %d}\n{len : %d}\n{fill : %d}\n{compress : %d}\n{bookmark_count : 0}\n"
           % (len(v), len(nodes), fill, compress)]
    for i, (kind, els) in enumerate(nodes):
        sz = len(els[0]) if kind == "PLAIN" else len(lp_build(els))
        out.append("{quicklist node(%d)\n" % i)
        out.append("{container : %s, encoding: RAW, size: %d, count: %d, recompress: 0, "
                   "attempted_compress: 0}\n" % (kind, sz, len(els)))
        if full:
            if kind == "PACKED":
                out.append("{ listpack:\n" + _lp_repr(els) + "}\n")
            else:
                out.append("{ entry : %s }\n" % _cstr(els[0]).decode("latin-1"))
            out.append("}\n")
    _stdout("".join(out))
    return b"+Quicklist structure printed on stdout\r\n"


@_sub(b"client-eviction", 2)
def _client_eviction(c, argv):
    srv = c.server
    cm = srv.cmem
    if cm.buckets is None:
        raise CommandError("ERR maxmemory-clients is disabled.")
    buckets = [[sum(cl.last_mem for cl in b), len(b)] for b in cm.buckets]
    out = []
    for j, (tot, n) in enumerate(buckets):
        line = "bucket          0" if j == 0 else "bucket %10d" % (1 << (j - 1 + 15))
        line += "+            : " if j == 18 else " - %10d: " % ((1 << (j + 15)) - 1)
        out.append(line + "tot-mem: %10d, clients: %d\n" % (tot, n))
    return c.r.verbatim("".join(out).encode())


# MALLCTL / MALLCTL-STR exist only in jemalloc builds (#ifdef USE_JEMALLOC); redislet
# reports mem_allocator:libc, so like a libc build they are unknown subcommands.


# -- crashes and restarts -------------------------------------------------------------------
# debug.c's crash paths: a bug report in the log (the sections printCrashReport writes,
# with a Python stack in place of the C backtrace), then the process dies the way
# redis-server does: SIGSEGV re-raised for SEGFAULT, abort() (SIGABRT) for PANIC, ASSERT
# and OOM. An embedded server (redislet.Server, not on the main thread) writes the same
# report but stops only itself instead of killing its host process.
def _bug_report_start(srv):
    if not getattr(srv, "bug_report_started", False):
        srv.bug_report_started = True
        srv.log_raw("\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===\n")


def _crash_report(c, srv=None):
    """logStackTrace + printCrashReport (when crash-log-enabled); never raises, the
    process must die after it. c: the current client (None: no CURRENT CLIENT INFO)."""
    srv = srv or c.server
    try:
        _crash_report_sections(c, srv)
    except Exception as e:  # noqa: BLE001
        srv.log_raw("\n(crash report failed: %r)\n" % e)


def crash_signal(srv, sig):
    """sigsegvHandler for a fatal signal sent to the process (SIGABRT...): the bug report,
    then die by the signal."""
    import signal
    _bug_report_start(srv)
    srv.log("warning", "Redis %s crashed by signal: %d, si_code: 0" % ("7.0.15", sig))
    _crash_report(None, srv)
    _bug_report_end(srv)
    import sys
    sys.stdout.flush()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    time.sleep(1)
    os._exit(128 + sig)


def _crash_report_sections(c, srv):
    import traceback
    if not srv.config.values.get("crash-log-enabled", True):
        return
    srv.log_raw("\n------ STACK TRACE ------\n\nBacktrace:\n"
             + "".join(traceback.format_stack()[:-2]))
    from .info import info_string
    from ..util import repr_bytes
    try:
        infotext = info_string(srv, [b"all"])
    except Exception as e:  # noqa: BLE001 - the report must go on
        infotext = "(INFO failed: %s)\r\n" % e
    srv.log_raw("\n------ INFO OUTPUT ------\n" + infotext)
    lines = []
    for cl in list(srv.clients.values()):
        try:
            lines.append(cl.info_line() + "\n")
        except Exception:  # noqa: BLE001
            pass
    srv.log_raw("\n------ CLIENT LIST OUTPUT ------\n" + "".join(lines))
    if c is not None:
        srv.log_raw("\n------ CURRENT CLIENT INFO ------\n")
        try:
            cur = c.info_line()
        except Exception:  # noqa: BLE001
            cur = ""
        out = [cur + "\n"]
        for j, a in enumerate(c.argv_current if hasattr(c, "argv_current") else []):
            out.append("argv[%d]: '%s'\n" % (j, repr_bytes(a[:128]).decode()))
        srv.log_raw("".join(out))
    srv.log_raw("\n------ MODULES INFO OUTPUT ------\n")
    try:
        cfg = srv.config.debug_info()
        if isinstance(cfg, bytes):
            cfg = cfg.decode("utf-8", "replace")
    except Exception:  # noqa: BLE001
        cfg = ""
    srv.log_raw("\n------ CONFIG DEBUG OUTPUT ------\n" + cfg)


def _bug_report_end(srv):
    srv.log_raw("\n=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n\n"
             "       Please report the crash by opening an issue on github:\n\n"
             "           http://github.com/redis/redis/issues\n\n"
             "  If a Redis module was involved, please open in the module's repo instead.\n\n"
             "  Suspect RAM error? Use redis-server --test-memory to verify it.\n\n"
             "  Some other issues could be detected by redis-server --check-system\n")
    v = srv.config.values
    if v.get("daemonize") and v.get("supervised", "no") in ("no", 0) and v.get("pidfile"):
        try:
            os.unlink(v["pidfile"])
        except OSError:
            pass


def _embedded():
    import threading
    return threading.current_thread() is not threading.main_thread()


def _die(c, sig):
    """bugReportEnd's exit: re-raise sig (SIGSEGV) or abort()."""
    import signal
    srv = c.server
    if _embedded():
        srv.log("warning", "Embedded server: stopping it instead of killing the process.")
        srv.shutdown(save=False, now=True, force=True)
        return None
    import sys
    sys.stdout.flush()
    if sig == signal.SIGABRT:
        os.abort()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    time.sleep(1)
    os._exit(128 + sig)


def _panic(c, msg, where):
    srv = c.server
    _bug_report_start(srv)
    srv.log("warning", "------------------------------------------------")
    srv.log("warning", "!!! Software Failure. Press left mouse button to continue")
    srv.log("warning", "Guru Meditation: %s #%s" % (msg, where))
    _crash_report(c)
    _bug_report_end(srv)
    import signal
    return _die(c, signal.SIGABRT)


def _note_argv(c, argv):
    c.argv_current = argv    # for the CURRENT CLIENT INFO section


@_sub(b"segfault")
def _segfault(c, argv):
    import signal
    _note_argv(c, argv)
    srv = c.server
    _bug_report_start(srv)
    srv.log("warning", "Redis %s crashed by signal: %d, si_code: 2" % ("7.0.15", signal.SIGSEGV))
    srv.log("warning", "Accessing address: 0x%x" % (id(c) & ~0xFFF))
    _crash_report(c)
    _bug_report_end(srv)
    return _die(c, signal.SIGSEGV)


@_sub(b"panic")
def _debug_panic(c, argv):
    _note_argv(c, argv)
    return _panic(c, "DEBUG PANIC called at Unix time %d" % int(time.time()), "debug.c:510")


@_sub(b"oom")
def _oom(c, argv):
    _note_argv(c, argv)
    n = (1 << 63) - 1          # zmalloc(SIZE_MAX/2)
    c.server.log("warning", "Out Of Memory allocating %d bytes!" % n)
    return _panic(c, "Redis aborting for OUT OF MEMORY. Allocating %d bytes!" % n,
                  "server.c:6658")


@_sub(b"assert")
def _assert(c, argv):
    _note_argv(c, argv)
    srv = c.server
    _bug_report_start(srv)
    # _serverAssertPrintClientInfo, _serverAssertPrintObject(argv[0]), _serverAssert
    srv.log("warning", "=== ASSERTION FAILED CLIENT CONTEXT ===")
    srv.log("warning", "client->flags = %d" % 0)
    srv.log("warning", "client->conn = fd=%d" % getattr(c, "fd", -1))
    srv.log("warning", "client->argc = %d" % len(argv))
    for j, a in enumerate(argv):
        srv.log("warning", "client->argv[%d] = \"%s\" (refcount: 1)"
                % (j, _cstr(a).decode("latin-1")))
    srv.log("warning", "=== ASSERTION FAILED OBJECT CONTEXT ===")
    srv.log("warning", "Object type: 0")
    srv.log("warning", "Object encoding: 8")
    srv.log("warning", "Object refcount: 1")
    srv.log("warning", "=== ASSERTION FAILED ===")
    srv.log("warning", "==> debug.c:530 '1 == 2' is not true")
    _crash_report(c)
    _bug_report_end(srv)
    import signal
    return _die(c, signal.SIGABRT)


def _restart_server(c, graceful, delay_ms):
    """restartServer: (RESTART) rewrite the config file and shut down properly (saving
    as SHUTDOWN does), then exec the same command line after delay_ms. Returns only on
    failure."""
    import sys
    srv = c.server
    exe = sys.executable
    if not os.access(exe, os.X_OK):
        srv.log("warning", "Can't restart: this process has no permissions to execute %s"
                % exe)
        return False
    if _embedded():
        srv.log("warning", "Can't restart: an embedded server does not own its process")
        return False
    cfg = srv.config
    if graceful and cfg.config_file:
        try:
            cfg.rewrite(cfg.config_file)
        except Exception as e:  # noqa: BLE001
            srv.log("warning", "Can't restart: configuration rewrite process failed: %s" % e)
            return False
    if graceful:
        # prepareForShutdown(SHUTDOWN_NOW): the shutdown hooks save the RDB when save
        # points are configured, flush the AOF, and so on
        srv.log("warning", "User requested shutdown...")
        if srv.shutdown_hooks_failed(None, False):
            srv.log("warning", "Can't restart: error preparing for shutdown")
            return False
        unixsock = cfg.values.get("unixsocket")
        if unixsock:
            try:
                os.unlink(unixsock)
            except OSError:
                pass
        srv.log("warning", "Redis is now ready to exit, bye bye...")
    sys.stdout.flush()
    # close every descriptor but stdin/stdout/stderr, then exec the original command line
    # (python [-m redislet | redislet-server] args...)
    os.closerange(3, 65536)
    if delay_ms:
        time.sleep(delay_ms / 1000.0)
    try:
        os.execv(exe, list(getattr(sys, "orig_argv", None) or [exe] + sys.argv))
    finally:
        os._exit(1)


def _restart(c, argv):
    from ..util import parse_ll
    delay = 0
    if len(argv) >= 3:
        delay = parse_ll(argv[2])
        if delay is None:
            raise CommandError("ERR value is not an integer or out of range")
        delay = max(delay, 0)
    _restart_server(c, argv[1].lower() == b"restart", delay)
    raise CommandError("ERR failed to restart the server. Check server logs.")


subcommands[b"restart"] = _restart
subcommands[b"crash-and-recover"] = _restart
