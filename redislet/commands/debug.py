"""DEBUG (debug.c debugCommand). Only reachable when enable-debug-command allows it.

Other families add subcommands with `debug.subcommands["reload"] = fn(c, argv) -> reply`.
"""
import os
import time

from .table import command
from .help import help_reply
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


@_sub(b"object", 3)
def _object(c, argv):
    db = c.db
    v = db.data.get(argv[2])
    if v is None:
        raise CommandError("ERR no such key")
    lru_ms = db.lru.get(argv[2], c.server.time_ms()) if hasattr(db, "lru") else 0
    srv = c.server
    if getattr(srv, "lfu_mode", False):
        lru = lru_ms & 0xFFFFFF
        idle = 0
    else:
        lru = (lru_ms // 1000) & 0xFFFFFF
        idle = max(0, (srv.time_ms() - lru_ms) // 1000)
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
           b"lru_seconds_idle:%d%s\r\n" % (id(v), enc.encode(), _serialized_length(v), lru,
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
