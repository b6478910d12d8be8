"""Server configuration: the directive table, config file / command-line loading,
CONFIG GET, CONFIG SET and CONFIG REWRITE, with Redis 7.0.15's semantics and messages
(src/config.c).

Every directive is one line of the table below (``TABLE``). Directive kinds:

* bool     - yes/no                              -> Python bool
* string   - verbatim string; default None means "empty string is NULL"
                                                 -> str ("" when unset)
* enum     - one name of a fixed list (or several, for MULTI_ARG bit-flag enums)
                                                 -> str, the canonical name(s)
* numeric  - integer with bounds; MEM (memory units), PCT (percent, stored negative)
             and OCT (octal) variants            -> int
* special  - dir, save, client-output-buffer-limit, oom-score-adj-values,
             notify-keyspace-events, bind, replicaof, latency-tracking-info-percentiles
             (each a small set/get/rewrite trio of functions)

Strings coming from files or clients are bytes; they are stored as str decoded as UTF-8
with ``surrogateescape`` (so ``s.encode('utf-8', 'surrogateescape')`` gives the bytes back).
"""
import copy
import glob as _glob
import os
import sys
import tempfile

from .glob import match as _glob_match
from .util import split_args, parse_ll, parse_double, repr_bytes

__all__ = ["Config", "ConfigError", "FatalConfigError", "TABLE", "REDIS_VERSION",
           "memtoull", "NOTIFY_ALL", "keyspace_events_from_string", "keyspace_events_to_string"]

REDIS_VERSION = "7.0.15"


class ConfigError(Exception):
    """A directive/value error; str(e) is Redis's message."""


class FatalConfigError(Exception):
    """Start-up failure. str(e) is the text redis-server prints.

    ``log`` is False for the "*** FATAL CONFIG FILE ERROR ***" block (printed as is to
    stderr), True when Redis reports it through serverLog instead (e.g. "Fatal error, can't
    open config file ..."): then str(e) is the bare log message, without pid/time prefix."""

    def __init__(self, text, log=False):
        super().__init__(text)
        self.log = log


# ---------------------------------------------------------------------------------------
# Limits and flags
# ---------------------------------------------------------------------------------------
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
UINT_MAX = (1 << 32) - 1
LONG_MAX = LLONG_MAX = SSIZE_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)
ULLONG_MAX = (1 << 64) - 1

# directive flags (server.h *_CONFIG); MODIFIABLE is the absence of IMMUTABLE
MODIFIABLE = 0
IMMUTABLE = 1 << 0
SENSITIVE = 1 << 1
DEBUG = 1 << 2
MULTI_ARG = 1 << 3
HIDDEN = 1 << 4
PROTECTED = 1 << 5
DENY_LOADING = 1 << 6
VOLATILE = 1 << 9

# numeric flags
MEM = 1 << 0
PCT = 1 << 1
OCT = 1 << 2

# keyspace notification classes (server.h NOTIFY_*)
NOTIFY_KEYSPACE = 1 << 0    # K
NOTIFY_KEYEVENT = 1 << 1    # E
NOTIFY_GENERIC = 1 << 2     # g
NOTIFY_STRING = 1 << 3      # $
NOTIFY_LIST = 1 << 4        # l
NOTIFY_SET = 1 << 5         # s
NOTIFY_HASH = 1 << 6        # h
NOTIFY_ZSET = 1 << 7        # z
NOTIFY_EXPIRED = 1 << 8     # x
NOTIFY_EVICTED = 1 << 9     # e
NOTIFY_STREAM = 1 << 10     # t
NOTIFY_KEY_MISS = 1 << 11   # m
NOTIFY_LOADED = 1 << 12
NOTIFY_MODULE = 1 << 13     # d
NOTIFY_NEW = 1 << 14        # n
NOTIFY_ALL = (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH
              | NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

# ---------------------------------------------------------------------------------------
# Enums: (name, value) in Redis's order; the first name of a value is its canonical name
# ---------------------------------------------------------------------------------------
MAXMEMORY_POLICY = (("volatile-lru", 0), ("volatile-lfu", 1), ("volatile-random", 2),
                    ("volatile-ttl", 3), ("allkeys-lru", 4), ("allkeys-lfu", 5),
                    ("allkeys-random", 6), ("noeviction", 7))
SYSLOG_FACILITY = tuple((n, i) for i, n in enumerate(
    ("user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7")))
LOGLEVEL = (("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3))
SUPERVISED = (("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0))
AOF_FSYNC = (("everysec", 2), ("always", 1), ("no", 0))
SHUTDOWN_ON_SIG = (("default", 0), ("save", 1), ("nosave", 2), ("now", 4), ("force", 8))
REPL_DISKLESS_LOAD = (("disabled", 0), ("on-empty-db", 1), ("swapdb", 2))
TLS_AUTH_CLIENTS = (("no", 0), ("yes", 1), ("optional", 2))
OOM_SCORE_ADJ = (("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2))
ACL_PUBSUB_DEFAULT = (("allchannels", 1), ("resetchannels", 0))
SANITIZE_DUMP = (("no", 0), ("yes", 1), ("clients", 2))
PROTECTED_ACTION = (("no", 0), ("yes", 1), ("local", 2))
ENDPOINT_TYPE = (("ip", 0), ("hostname", 1), ("unknown-endpoint", 2))
PROPAGATION_ERROR = (("ignore", 0), ("panic", 1), ("panic-on-replicas", 2))


# ---------------------------------------------------------------------------------------
# C-like helpers
# ---------------------------------------------------------------------------------------
def _dec(b):
    return b.decode("utf-8", "surrogateescape")


def _enc(s):
    return s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s)


def _cstr(b):
    """What a C function taking a NUL-terminated string sees of an sds value."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def _s64(v):
    """Reinterpret an unsigned 64-bit value as long long."""
    v &= ULLONG_MAX
    return v - (1 << 64) if v > LLONG_MAX else v


def _s32(v):
    """(int) cast of a long long."""
    v &= UINT_MAX
    return v - (1 << 32) if v > INT_MAX else v


_CSPACE = b" \t\n\v\f\r"


def _strtoll(b, base=10):
    """strtoll(b, &end, base) -> (value, rest_after_number, overflowed)."""
    b = _cstr(b)
    i, n = 0, len(b)
    while i < n and b[i] in _CSPACE:
        i += 1
    neg = False
    if i < n and b[i] in b"+-":
        neg = b[i] == 45
        i += 1
    digits = b"01234567" if base == 8 else b"0123456789"
    j = i
    while j < n and b[j] in digits:
        j += 1
    if j == i:
        return 0, b, False          # no conversion: endptr is the whole input
    v = int(b[i:j], base)
    if neg:
        v = -v
    if v > LLONG_MAX:
        return LLONG_MAX, b[j:], True
    if v < LLONG_MIN:
        return LLONG_MIN, b[j:], True
    return v, b[j:], False


_MEM_UNITS = {b"": 1, b"b": 1, b"k": 1000, b"kb": 1024, b"m": 1000 * 1000, b"mb": 1024 * 1024,
              b"g": 1000 * 1000 * 1000, b"gb": 1024 * 1024 * 1024}


def memtoull(b):
    """Redis's memtoull: '<digits>[b|k|kb|m|mb|g|gb]' (case-insensitive) -> unsigned 64-bit
    int, or None on error. Overflow is not an error in Redis (clamps/wraps)."""
    b = _cstr(b)
    if b[:1] == b"-":
        return None
    i = 0
    while i < len(b) and 48 <= b[i] <= 57:
        i += 1
    mul = _MEM_UNITS.get(b[i:].lower())
    if mul is None or i >= 128:
        return None
    val = min(int(b[:i]), ULLONG_MAX) if i else 0
    return (val * mul) & ULLONG_MAX


def _trim_double(s):
    """trimDoubleString on a "%f" rendering."""
    if "." in s:
        s = s.rstrip("0")
        if s.endswith("."):
            s = s[:-1]
    return s


def _format_memory(v):
    """rewriteConfigFormatMemory (value taken as long long)."""
    v = _s64(v)
    for unit, size in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if v and v % size == 0:
            return "%d%s" % (int(v / size), unit)
    return "%d" % v


def get_absolute_path(filename):
    """util.c getAbsolutePath."""
    rel = filename.strip(" \r\n\t")
    if rel.startswith("/"):
        return rel
    absp = os.getcwd()
    if absp and not absp.endswith("/"):
        absp += "/"
    while rel.startswith("../"):
        rel = rel[3:]
        if len(absp) > 1:
            absp = absp[:absp[:-1].rfind("/") + 1]   # drop the last path element
    return absp + rel


# ---------------------------------------------------------------------------------------
# Keyspace events
# ---------------------------------------------------------------------------------------
_NOTIFY_CHARS = {"A": NOTIFY_ALL, "g": NOTIFY_GENERIC, "$": NOTIFY_STRING, "l": NOTIFY_LIST,
                 "s": NOTIFY_SET, "h": NOTIFY_HASH, "z": NOTIFY_ZSET, "x": NOTIFY_EXPIRED,
                 "e": NOTIFY_EVICTED, "K": NOTIFY_KEYSPACE, "E": NOTIFY_KEYEVENT,
                 "t": NOTIFY_STREAM, "m": NOTIFY_KEY_MISS, "d": NOTIFY_MODULE, "n": NOTIFY_NEW}
_NOTIFY_CLASS_ORDER = "g$lshzxetdn"


def keyspace_events_from_string(s):
    """keyspaceEventsStringToFlags: -> int flags, or -1 on an unknown character."""
    flags = 0
    for ch in s:
        f = _NOTIFY_CHARS.get(ch)
        if f is None:
            return -1
        flags |= f
    return flags


def keyspace_events_to_string(flags):
    """keyspaceEventsFlagsToString."""
    if flags & NOTIFY_ALL == NOTIFY_ALL:
        res = "A"
    else:
        res = "".join(c for c in _NOTIFY_CLASS_ORDER if flags & _NOTIFY_CHARS[c])
    for c in "KEm":
        if flags & _NOTIFY_CHARS[c]:
            res += c
    return res


# ---------------------------------------------------------------------------------------
# The directive table
# ---------------------------------------------------------------------------------------
class Spec:
    """One directive. ``kind`` is bool/string/enum/numeric/special."""
    __slots__ = ("name", "alias", "kind", "flags", "default", "lo", "hi", "nflags",
                 "unsigned", "enum", "validate", "ops")

    def __init__(self, name, alias, kind, flags, default, lo=0, hi=0, nflags=0,
                 unsigned=False, enum=None, validate=None, ops=None):
        self.name, self.alias, self.kind, self.flags = name, alias, kind, flags
        self.default, self.lo, self.hi, self.nflags = default, lo, hi, nflags
        self.unsigned, self.enum, self.validate, self.ops = unsigned, enum, validate, ops

    def __repr__(self):
        return "<Spec %s>" % self.name


def B(name, alias, flags, default, validate=None):
    return Spec(name, alias, "bool", flags, default, validate=validate)


def S(name, alias, flags, default, validate=None):
    """String config; default None means EMPTY_STRING_IS_NULL (unset)."""
    return Spec(name, alias, "string", flags, default, validate=validate)


def E(name, alias, flags, enum, default, validate=None):
    return Spec(name, alias, "enum", flags, default, enum=enum, validate=validate)


_UNSIGNED_CTYPES = ("uint", "ull", "size_t")


def N(name, alias, flags, lo, hi, default, nflags=0, ctype="int"):
    """Numeric config; ctype is the C type (only unsigned ones change bound checking)."""
    return Spec(name, alias, "numeric", flags, default, lo, hi, nflags,
                unsigned=ctype in _UNSIGNED_CTYPES)


def X(name, alias, flags, ops):
    """Special config; ops = (init, set, get, rewrite)."""
    return Spec(name, alias, "special", flags, None, ops=ops)


# --- validators (is_valid_fn): raise ConfigError ---------------------------------------
def _valid_active_defrag(cfg, val):
    # Debian's redis-server is linked with the system jemalloc: no HAVE_DEFRAG.
    if val:
        raise ConfigError("Active defragmentation cannot be enabled: it requires a Redis "
                          "server compiled with a modified Jemalloc like the one shipped by "
                          "default with the Redis source distribution")


def _valid_dbfilename(cfg, val):
    if "/" in val or "\\" in val:
        raise ConfigError("dbfilename can't be a path, just a filename")


def _valid_aof_filename(cfg, val):
    if val == "":
        raise ConfigError("appendfilename can't be empty")
    if "/" in val or "\\" in val:
        raise ConfigError("appendfilename can't be a path, just a filename")


def _valid_aof_dirname(cfg, val):
    if val == "":
        raise ConfigError("appenddirname can't be empty")
    if "/" in val or "\\" in val:
        raise ConfigError("appenddirname can't be a path, just a dirname")


def _valid_shutdown_flags(cfg, val):
    if val & 1 and val & 2:
        raise ConfigError("shutdown options SAVE and NOSAVE can't be used simultaneously")


def _valid_hostname(cfg, val):
    raw = _enc(val)
    if len(raw) >= 256:
        raise ConfigError("Hostnames must be less than 256 characters")
    for c in raw:
        if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c in b"-."):
            raise ConfigError("Hostnames may only contain alphanumeric characters, "
                              "hyphens or dots")


def _valid_proc_title(cfg, val):
    if not cfg.validate_proc_title_template(val):
        raise ConfigError("template format is invalid or contains unknown variables")


# --- special configs: (init, set, get, rewrite) -----------------------------------------
# set(cfg, spec, args: list[bytes]) -> changed(bool); raises ConfigError.
# get(cfg) -> str (CONFIG GET); rewrite(cfg, state, name).

def _dir_init(cfg):
    try:
        return os.getcwd()
    except OSError:
        return ""


def _dir_set(cfg, spec, args):
    if len(args) != 1:
        raise ConfigError("wrong number of arguments")
    try:
        os.chdir(_cstr(args[0]))
    except OSError as e:
        raise ConfigError(os.strerror(e.errno)) from None
    cfg.values["dir"] = _dir_init(cfg)
    return True


def _dir_get(cfg):
    return _dir_init(cfg)


def _dir_rewrite(cfg, st, name):
    try:
        cwd = os.getcwd()
    except OSError:
        st.mark(name)
        return
    st.string_option(name, _enc(cwd), None)


def _save_init(cfg):
    return [(3600, 1), (300, 100), (60, 10000)]


def _save_set(cfg, spec, args):
    args = [_cstr(a) for a in args]
    if len(args) == 1 and args[0] == b"":
        cfg.values["save"] = []
        args = []
    if len(args) & 1:
        raise ConfigError("Invalid save parameters")
    parsed = []
    for j, a in enumerate(args):
        val, rest, _ = _strtoll(a)
        if rest or (j % 2 == 0 and val < 1) or (j % 2 == 1 and val < 0):
            raise ConfigError("Invalid save parameters")
        parsed.append(val)
    if not cfg._reading_config_file:
        cfg.values["save"] = []
    elif not cfg._save_loaded:
        # the defaults are dropped by the first save line of the file only
        cfg._save_loaded = True
        cfg.values["save"] = []
    cfg.values["save"] = cfg.values["save"] + [
        (parsed[j], _s32(parsed[j + 1])) for j in range(0, len(parsed), 2)]
    return True


def _save_get(cfg):
    return " ".join("%d %d" % p for p in cfg.values["save"])


def _save_rewrite(cfg, st, name):
    if cfg.sentinel_rewrite is not None:     # sentinel mode does not rewrite save
        st.mark(name)
        return
    params = cfg.values["save"]
    if not params:
        st.rewrite_line(name, b'save ""', True)
    for sec, changes in params:
        st.rewrite_line(name, b"save %d %d" % (sec, changes), True)
    st.mark(name)


_COBL_DEFAULTS = {"normal": (0, 0, 0), "replica": (256 << 20, 64 << 20, 60),
                  "pubsub": (32 << 20, 8 << 20, 60)}
_COBL_CLASSES = {b"normal": "normal", b"slave": "replica", b"replica": "replica",
                 b"pubsub": "pubsub", b"master": None}


def _cobl_init(cfg):
    return dict(_COBL_DEFAULTS)


def _cobl_set(cfg, spec, args):
    if len(args) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    new = {}
    for j in range(0, len(args), 4):
        cls = _COBL_CLASSES.get(_cstr(args[j]).lower())
        if cls is None:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard = memtoull(args[j + 1])
        soft = memtoull(args[j + 2])
        secs, rest, _ = _strtoll(args[j + 3])
        secs = _s32(secs)
        if hard is None or soft is None or secs < 0 or rest:
            raise ConfigError("Error in hard, soft or soft_seconds setting in "
                              "buffer limit configuration.")
        new[cls] = (hard, soft, secs)
    limits = dict(cfg.values["client-output-buffer-limit"])
    limits.update(new)
    cfg.values["client-output-buffer-limit"] = limits
    return True


def _cobl_get(cfg):
    lim = cfg.values["client-output-buffer-limit"]
    return " ".join("%s %d %d %d" % ((label,) + lim[cls]) for label, cls in
                    (("normal", "normal"), ("slave", "replica"), ("pubsub", "pubsub")))


def _cobl_rewrite(cfg, st, name):
    lim = cfg.values["client-output-buffer-limit"]
    for cls in ("normal", "replica", "pubsub"):
        hard, soft, secs = lim[cls]
        line = "%s %s %s %s %d" % (name, cls, _format_memory(hard), _format_memory(soft), secs)
        st.rewrite_line(name, line.encode(), lim[cls] != _COBL_DEFAULTS[cls])


def _oom_init(cfg):
    return (0, 200, 800)


def _oom_set(cfg, spec, args):
    if len(args) != 3:
        raise ConfigError("wrong number of arguments")
    vals = []
    for a in args:
        v, rest, _ = _strtoll(a)
        if rest or v < -2000 or v > 2000:
            raise ConfigError("Invalid oom-score-adj-values, elements must be between "
                              "-2000 and 2000.")
        vals.append(v)
    vals = tuple(vals)
    changed = vals != cfg.values["oom-score-adj-values"]
    cfg.values["oom-score-adj-values"] = vals
    return changed


def _oom_get(cfg):
    return " ".join(str(v) for v in cfg.values["oom-score-adj-values"])


def _oom_rewrite(cfg, st, name):
    vals = cfg.values["oom-score-adj-values"]
    line = "%s %s" % (name, " ".join(str(v) for v in vals))
    st.rewrite_line(name, line.encode(), vals != _oom_init(cfg))


def _notify_init(cfg):
    return ""


def _notify_set(cfg, spec, args):
    if len(args) != 1:
        raise ConfigError("wrong number of arguments")
    flags = keyspace_events_from_string(_dec(_cstr(args[0])))
    if flags == -1:
        raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    cfg.notify_flags = flags
    cfg.values["notify-keyspace-events"] = keyspace_events_to_string(flags)
    return True


def _notify_get(cfg):
    return keyspace_events_to_string(cfg.notify_flags)


def _notify_rewrite(cfg, st, name):
    flags = keyspace_events_to_string(cfg.notify_flags)
    st.rewrite_line(name, name.encode() + b" " + repr_bytes(flags.encode()), cfg.notify_flags != 0)


_DEFAULT_BIND = ["*", "-::*"]


def _bind_init(cfg):
    return list(_DEFAULT_BIND)


def _bind_set(cfg, spec, args):
    if len(args) > 16:
        raise ConfigError("Too many bind addresses specified.")
    if len(args) == 1 and args[0] == b"":
        args = []
    cfg.values["bind"] = [_dec(_cstr(a)) for a in args]
    return True


def _bind_get(cfg):
    return " ".join(cfg.values["bind"])


def _bind_rewrite(cfg, st, name):
    addrs = cfg.values["bind"]
    if addrs == _DEFAULT_BIND:
        st.mark(name)
        return
    rest = " ".join(addrs) if addrs else '""'
    st.rewrite_line(name, _enc("%s %s" % (name, rest)), True)


def _replicaof_init(cfg):
    return None


def _replicaof_set(cfg, spec, args):
    if len(args) != 2:
        raise ConfigError("wrong number of arguments")
    cfg.values["replicaof"] = None
    if args[0].lower() == b"no" and args[1].lower() == b"one":
        return True
    port, rest, _ = _strtoll(args[1])
    port = _s32(port)
    if port < 0 or port > 65535 or rest:
        raise ConfigError("Invalid master port")
    cfg.values["replicaof"] = (_dec(args[0]), port)
    return True


def _replicaof_get(cfg):
    r = cfg.values["replicaof"]
    return "%s %d" % r if r else ""


def _replicaof_rewrite(cfg, st, name):
    r = cfg.values["replicaof"]
    if cfg.values["cluster-enabled"] or r is None:
        st.mark(name)
        return
    st.rewrite_line(name, _enc("%s %s %d" % (name, r[0], r[1])), True)


def _pct_init(cfg):
    return [50.0, 99.0, 99.9]


def _pct_set(cfg, spec, args):
    if len(args) == 1 and args[0] == b"":
        args = []
    vals = []
    for a in args:
        p = parse_double(a)
        if p is None:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters")
        if p > 100.0 or p < 0.0:
            raise ConfigError("latency-tracking-info-percentiles parameters should sit "
                              "between [0.0,100.0]")
        vals.append(p)
    cfg.values["latency-tracking-info-percentiles"] = vals
    return True


def _pct_get(cfg):
    return " ".join(_trim_double("%f" % p) for p in cfg.values["latency-tracking-info-percentiles"])


def _pct_rewrite(cfg, st, name):
    vals = cfg.values["latency-tracking-info-percentiles"]
    rest = " ".join(_trim_double("%f" % p) for p in vals) if vals else '""'
    st.rewrite_line(name, ("%s %s" % (name, rest)).encode(), True)


# --- built-in parts of Redis's apply functions: the value adjustments and checks that do
# not need the running server (the server adds its own through Config.on_change()) -------
def _apply_hz(cfg):
    """updateHZ: hz is a hint, clamped to [1, 500]."""
    hz = cfg.values["hz"]
    cfg.values["hz"] = 1 if hz < 1 else 500 if hz > 500 else hz


def _apply_repl_backlog_size(cfg):
    """resizeReplicationBacklog: at least 16k."""
    if cfg.values["repl-backlog-size"] < 16 * 1024:
        cfg.values["repl-backlog-size"] = 16 * 1024


def _apply_watchdog_period(cfg):
    """applyWatchdogPeriod: a non-zero period is at least twice the timer period."""
    period = cfg.values["watchdog-period"]
    min_period = (1000 // cfg.values["hz"]) * 2
    if period and period < min_period:
        cfg.values["watchdog-period"] = min_period


def _tls_configurable(cfg):
    """The checks of tlsConfigure() that come before loading certificates."""
    v = cfg.values
    if not v["tls-cert-file"] or not v["tls-key-file"]:
        return False
    if ((v["tls-auth-clients"] != "no" or v["tls-cluster"] or v["tls-replication"])
            and not v["tls-ca-cert-file"] and not v["tls-ca-cert-dir"]):
        return False
    protocols = v["tls-protocols"]
    if protocols:
        for tok in protocols.split(" "):
            if tok.lower() not in ("tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"):
                return False
    return True


def _apply_tls_cfg(cfg):
    v = cfg.values
    if (v["tls-port"] or v["tls-replication"] or v["tls-cluster"]) and not _tls_configurable(cfg):
        raise ConfigError("Unable to update TLS configuration. Check server logs.")


def _apply_tls_port(cfg):
    if not _tls_configurable(cfg):
        raise ConfigError("Unable to update TLS configuration. Check server logs.")


_TLS_CFG_NAMES = ("tls-session-cache-size", "tls-session-cache-timeout", "tls-cluster",
                  "tls-replication", "tls-prefer-server-ciphers", "tls-session-caching",
                  "tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file",
                  "tls-client-key-file", "tls-client-key-file-pass", "tls-dh-params-file",
                  "tls-ca-cert-file", "tls-ca-cert-dir", "tls-protocols", "tls-ciphers",
                  "tls-ciphersuites")
BUILTIN_APPLY = {"hz": _apply_hz, "repl-backlog-size": _apply_repl_backlog_size,
                 "watchdog-period": _apply_watchdog_period, "tls-port": _apply_tls_port}
BUILTIN_APPLY.update((n, _apply_tls_cfg) for n in _TLS_CFG_NAMES)


DIR_OPS = (_dir_init, _dir_set, _dir_get, _dir_rewrite)
SAVE_OPS = (_save_init, _save_set, _save_get, _save_rewrite)
COBL_OPS = (_cobl_init, _cobl_set, _cobl_get, _cobl_rewrite)
OOM_OPS = (_oom_init, _oom_set, _oom_get, _oom_rewrite)
NOTIFY_OPS = (_notify_init, _notify_set, _notify_get, _notify_rewrite)
BIND_OPS = (_bind_init, _bind_set, _bind_get, _bind_rewrite)
REPLICAOF_OPS = (_replicaof_init, _replicaof_set, _replicaof_get, _replicaof_rewrite)
PERCENTILES_OPS = (_pct_init, _pct_set, _pct_get, _pct_rewrite)

I, M, D, H, P = IMMUTABLE, MODIFIABLE, DEBUG, HIDDEN, PROTECTED
DL, MA, SE, V = DENY_LOADING, MULTI_ARG, SENSITIVE, VOLATILE

# The static_configs[] table of Redis 7.0.15 (USE_OPENSSL build, as Debian's), same order.
TABLE = [
    # bool: name, alias, flags, default[, validator]
    B("rdbchecksum", None, I, True),
    B("daemonize", None, I, False),
    B("io-threads-do-reads", None, D | I, False),
    B("always-show-logo", None, I, False),
    B("protected-mode", None, M, True),
    B("rdbcompression", None, M, True),
    B("rdb-del-sync-files", None, M, False),
    B("activerehashing", None, M, True),
    B("stop-writes-on-bgsave-error", None, M, True),
    B("set-proc-title", None, I, True),
    B("dynamic-hz", None, M, True),
    B("lazyfree-lazy-eviction", None, D | M, False),
    B("lazyfree-lazy-expire", None, D | M, False),
    B("lazyfree-lazy-server-del", None, D | M, False),
    B("lazyfree-lazy-user-del", None, D | M, False),
    B("lazyfree-lazy-user-flush", None, D | M, False),
    B("repl-disable-tcp-nodelay", None, M, False),
    B("repl-diskless-sync", None, D | M, True),
    B("aof-rewrite-incremental-fsync", None, M, True),
    B("no-appendfsync-on-rewrite", None, M, False),
    B("cluster-require-full-coverage", None, M, True),
    B("rdb-save-incremental-fsync", None, M, True),
    B("aof-load-truncated", None, M, True),
    B("aof-use-rdb-preamble", None, M, True),
    B("aof-timestamp-enabled", None, M, False),
    B("cluster-replica-no-failover", "cluster-slave-no-failover", M, False),
    B("replica-lazy-flush", "slave-lazy-flush", M, False),
    B("replica-serve-stale-data", "slave-serve-stale-data", M, True),
    B("replica-read-only", "slave-read-only", D | M, True),
    B("replica-ignore-maxmemory", "slave-ignore-maxmemory", M, True),
    B("jemalloc-bg-thread", None, M, True),
    B("activedefrag", None, D | M, False, _valid_active_defrag),
    B("syslog-enabled", None, I, False),
    B("cluster-enabled", None, I, False),
    B("appendonly", None, M | DL, False),
    B("cluster-allow-reads-when-down", None, M, False),
    B("cluster-allow-pubsubshard-when-down", None, M, True),
    B("crash-log-enabled", None, M, True),
    B("crash-memcheck-enabled", None, M, True),
    B("use-exit-on-panic", None, M | H, False),
    B("disable-thp", None, I, True),
    B("cluster-allow-replica-migration", None, M, True),
    B("replica-announced", None, M, True),
    B("latency-tracking", None, M, True),
    B("aof-disable-auto-gc", None, M, False),
    B("replica-ignore-disk-write-errors", None, M, False),

    # string: name, alias, flags, default (None: empty string is NULL)[, validator]
    S("aclfile", None, I, ""),
    S("unixsocket", None, I, None),
    S("pidfile", None, I, None),
    S("replica-announce-ip", "slave-announce-ip", M, None),
    S("masteruser", None, M | SE, None),
    S("cluster-announce-ip", None, M, None),
    S("cluster-config-file", None, I, "nodes.conf"),
    S("cluster-announce-hostname", None, M, None, _valid_hostname),
    S("syslog-ident", None, I, "redis"),
    S("dbfilename", None, M | P, "dump.rdb", _valid_dbfilename),
    S("appendfilename", None, I, "appendonly.aof", _valid_aof_filename),
    S("appenddirname", None, I, "appendonlydir", _valid_aof_dirname),
    S("server_cpulist", None, I, None),
    S("bio_cpulist", None, I, None),
    S("aof_rewrite_cpulist", None, I, None),
    S("bgsave_cpulist", None, I, None),
    S("ignore-warnings", None, M, ""),
    S("proc-title-template", None, M, "{title} {listen-addr} {server-mode}", _valid_proc_title),
    S("bind-source-addr", None, M, None),
    S("logfile", None, I, ""),
    S("masterauth", None, M | SE, None),
    S("requirepass", None, M | SE, None),

    # enum: name, alias, flags, values, default[, validator]
    E("supervised", None, I, SUPERVISED, "no"),
    E("syslog-facility", None, I, SYSLOG_FACILITY, "local0"),
    E("repl-diskless-load", None, D | M | DL, REPL_DISKLESS_LOAD, "disabled"),
    E("loglevel", None, M, LOGLEVEL, "notice"),
    E("maxmemory-policy", None, M, MAXMEMORY_POLICY, "noeviction"),
    E("appendfsync", None, M, AOF_FSYNC, "everysec"),
    E("oom-score-adj", None, M, OOM_SCORE_ADJ, "no"),
    E("acl-pubsub-default", None, M, ACL_PUBSUB_DEFAULT, "resetchannels"),
    E("sanitize-dump-payload", None, D | M, SANITIZE_DUMP, "no"),
    E("enable-protected-configs", None, I, PROTECTED_ACTION, "no"),
    E("enable-debug-command", None, I, PROTECTED_ACTION, "no"),
    E("enable-module-command", None, I, PROTECTED_ACTION, "no"),
    E("cluster-preferred-endpoint-type", None, M, ENDPOINT_TYPE, "ip"),
    E("propagation-error-behavior", None, M, PROPAGATION_ERROR, "ignore"),
    E("shutdown-on-sigint", None, M | MA, SHUTDOWN_ON_SIG, "default", _valid_shutdown_flags),
    E("shutdown-on-sigterm", None, M | MA, SHUTDOWN_ON_SIG, "default", _valid_shutdown_flags),

    # numeric: name, alias, flags, min, max, default[, MEM/PCT/OCT, C type]
    N("databases", None, I, 1, INT_MAX, 16),
    N("port", None, M, 0, 65535, 6379),
    N("io-threads", None, D | I, 1, 128, 1),
    N("auto-aof-rewrite-percentage", None, M, 0, INT_MAX, 100),
    N("cluster-replica-validity-factor", "cluster-slave-validity-factor", M, 0, INT_MAX, 10),
    N("list-max-listpack-size", "list-max-ziplist-size", M, INT_MIN, INT_MAX, -2),
    N("tcp-keepalive", None, M, 0, INT_MAX, 300),
    N("cluster-migration-barrier", None, M, 0, INT_MAX, 1),
    N("active-defrag-cycle-min", None, M, 1, 99, 1),
    N("active-defrag-cycle-max", None, M, 1, 99, 25),
    N("active-defrag-threshold-lower", None, M, 0, 1000, 10),
    N("active-defrag-threshold-upper", None, M, 0, 1000, 100),
    N("lfu-log-factor", None, M, 0, INT_MAX, 10),
    N("lfu-decay-time", None, M, 0, INT_MAX, 1),
    N("replica-priority", "slave-priority", M, 0, INT_MAX, 100),
    N("repl-diskless-sync-delay", None, M, 0, INT_MAX, 5),
    N("maxmemory-samples", None, M, 1, INT_MAX, 5),
    N("maxmemory-eviction-tenacity", None, M, 0, 100, 10),
    N("timeout", None, M, 0, INT_MAX, 0),
    N("replica-announce-port", "slave-announce-port", M, 0, 65535, 0),
    N("tcp-backlog", None, I, 0, INT_MAX, 511),
    N("cluster-port", None, I, 0, 65535, 0),
    N("cluster-announce-bus-port", None, M, 0, 65535, 0),
    N("cluster-announce-port", None, M, 0, 65535, 0),
    N("cluster-announce-tls-port", None, M, 0, 65535, 0),
    N("repl-timeout", None, M, 1, INT_MAX, 60),
    N("repl-ping-replica-period", "repl-ping-slave-period", M, 1, INT_MAX, 10),
    N("list-compress-depth", None, D | M, 0, INT_MAX, 0),
    N("rdb-key-save-delay", None, M | H, INT_MIN, INT_MAX, 0),
    N("key-load-delay", None, M | H, INT_MIN, INT_MAX, 0),
    N("active-expire-effort", None, M, 1, 10, 1),
    N("hz", None, M, 0, INT_MAX, 10),
    N("min-replicas-to-write", "min-slaves-to-write", M, 0, INT_MAX, 0),
    N("min-replicas-max-lag", "min-slaves-max-lag", M, 0, INT_MAX, 10),
    N("watchdog-period", None, M | H, 0, INT_MAX, 0),
    N("shutdown-timeout", None, M, 0, INT_MAX, 10),
    N("repl-diskless-sync-max-replicas", None, M, 0, INT_MAX, 0),
    N("maxclients", None, M, 1, UINT_MAX, 10000, 0, "uint"),
    N("unixsocketperm", None, I, 0, 0o777, 0, OCT, "uint"),
    N("socket-mark-id", None, I, 0, UINT_MAX, 0, 0, "uint"),
    N("active-defrag-max-scan-fields", None, M, 1, LONG_MAX, 1000, 0, "ulong"),
    N("slowlog-max-len", None, M, 0, LONG_MAX, 128, 0, "ulong"),
    N("acllog-max-len", None, M, 0, LONG_MAX, 128, 0, "ulong"),
    N("busy-reply-threshold", "lua-time-limit", M, 0, LONG_MAX, 5000, 0, "ll"),
    N("cluster-node-timeout", None, M, 0, LLONG_MAX, 15000, 0, "ll"),
    N("slowlog-log-slower-than", None, M, -1, LLONG_MAX, 10000, 0, "ll"),
    N("latency-monitor-threshold", None, M, 0, LLONG_MAX, 0, 0, "ll"),
    N("proto-max-bulk-len", None, D | M, 1 << 20, LONG_MAX, 512 << 20, MEM, "ll"),
    N("stream-node-max-entries", None, M, 0, LLONG_MAX, 100, 0, "ll"),
    N("repl-backlog-size", None, M, 1, LLONG_MAX, 1 << 20, MEM, "ll"),
    N("maxmemory", None, M, 0, ULLONG_MAX, 0, MEM, "ull"),
    N("cluster-link-sendbuf-limit", None, M, 0, ULLONG_MAX, 0, MEM, "ull"),
    N("hash-max-listpack-entries", "hash-max-ziplist-entries", M, 0, LONG_MAX, 512, 0, "size_t"),
    N("set-max-intset-entries", None, M, 0, LONG_MAX, 512, 0, "size_t"),
    N("zset-max-listpack-entries", "zset-max-ziplist-entries", M, 0, LONG_MAX, 128, 0, "size_t"),
    N("active-defrag-ignore-bytes", None, M, 1, LLONG_MAX, 100 << 20, MEM, "size_t"),
    N("hash-max-listpack-value", "hash-max-ziplist-value", M, 0, LONG_MAX, 64, MEM, "size_t"),
    N("stream-node-max-bytes", None, M, 0, LONG_MAX, 4096, MEM, "size_t"),
    N("zset-max-listpack-value", "zset-max-ziplist-value", M, 0, LONG_MAX, 64, MEM, "size_t"),
    N("hll-sparse-max-bytes", None, M, 0, LONG_MAX, 3000, MEM, "size_t"),
    N("tracking-table-max-keys", None, M, 0, LONG_MAX, 1000000, 0, "size_t"),
    N("client-query-buffer-limit", None, D | M, 1 << 20, LONG_MAX, 1 << 30, MEM, "size_t"),
    N("maxmemory-clients", None, M, -100, SSIZE_MAX, 0, MEM | PCT, "ssize_t"),
    N("repl-backlog-ttl", None, M, 0, LONG_MAX, 3600, 0, "time_t"),
    N("auto-aof-rewrite-min-size", None, M, 0, LLONG_MAX, 64 << 20, MEM, "off_t"),
    N("loading-process-events-interval-bytes", None, M | H, 1024, INT_MAX, 2 << 20, 0, "off_t"),

    # TLS (USE_OPENSSL)
    N("tls-port", None, M, 0, 65535, 0),
    N("tls-session-cache-size", None, M, 0, INT_MAX, 20 * 1024),
    N("tls-session-cache-timeout", None, M, 0, INT_MAX, 300),
    B("tls-cluster", None, M, False),
    B("tls-replication", None, M, False),
    E("tls-auth-clients", None, M, TLS_AUTH_CLIENTS, "yes"),
    B("tls-prefer-server-ciphers", None, M, False),
    B("tls-session-caching", None, M, True),
    S("tls-cert-file", None, V | M, None),
    S("tls-key-file", None, V | M, None),
    S("tls-key-file-pass", None, M, None),
    S("tls-client-cert-file", None, V | M, None),
    S("tls-client-key-file", None, V | M, None),
    S("tls-client-key-file-pass", None, M, None),
    S("tls-dh-params-file", None, V | M, None),
    S("tls-ca-cert-file", None, V | M, None),
    S("tls-ca-cert-dir", None, V | M, None),
    S("tls-protocols", None, M, None),
    S("tls-ciphers", None, M, None),
    S("tls-ciphersuites", None, M, None),

    # special: name, alias, flags, (init, set, get, rewrite)
    X("dir", None, M | P | DL, DIR_OPS),
    X("save", None, M | MA, SAVE_OPS),
    X("client-output-buffer-limit", None, M | MA, COBL_OPS),
    X("oom-score-adj-values", None, M | MA, OOM_OPS),
    X("notify-keyspace-events", None, M, NOTIFY_OPS),
    X("bind", None, M | MA, BIND_OPS),
    X("replicaof", "slaveof", I | MA, REPLICAOF_OPS),
    X("latency-tracking-info-percentiles", None, M | MA, PERCENTILES_OPS),
]

SPECS = {s.name: s for s in TABLE}
# every name CONFIG GET/SET knows (canonical and alias), lower-case -> (spec, that name)
_LOOKUP = {}
for _s in TABLE:
    _LOOKUP[_s.name] = (_s, _s.name)
    if _s.alias:
        _LOOKUP[_s.alias] = (_s, _s.alias)
del _s

_DEPRECATED = {b"list-max-ziplist-entries": (2, 2), b"list-max-ziplist-value": (2, 2),
               b"lua-replicate-commands": (2, 2)}
_REWRITE_SIGNATURE = b"# Generated by CONFIG REWRITE"
_SDS_CONFIGS = ("masterauth", "requirepass")   # binary-safe strings (the others stop at NUL)
_FILE_ONLY_DIRECTIVES = (b"include", b"rename-command", b"user", b"loadmodule", b"sentinel")


def lookup(name):
    """(spec, registered name) for a canonical or alias name (case-insensitive), or None."""
    try:
        name = _enc(name).decode("ascii")
    except UnicodeDecodeError:
        return None
    return _LOOKUP.get(name.lower())


# ---------------------------------------------------------------------------------------
# Enum / numeric parsing and formatting
# ---------------------------------------------------------------------------------------
def _enum_error(spec):
    msg = "argument(s) must be one of the following: " + ", ".join(n for n, _ in spec.enum)
    return ConfigError(msg[:255])


def _enum_name(spec, val):
    """configEnumGetName."""
    bitflags = bool(spec.flags & MULTI_ARG)
    names = []
    unmatched = val
    for n, v in spec.enum:
        if v == val:
            return n
        if bitflags and v and v == (unmatched & v):
            names.append(n)
            unmatched &= ~v
    if not names or unmatched:
        return "unknown"
    return " ".join(names)


def _parse_numeric(spec, raw):
    """numericParseString -> long long (signed 64-bit)."""
    nf = spec.nflags
    if nf & MEM:
        v = memtoull(raw)
        if v is not None:
            return _s64(v)
    if nf & PCT and len(raw) > 1 and raw.endswith(b"%"):
        v = parse_ll(raw[:-1])
        if v is not None and v >= 0:
            return -v
    if nf & OCT:
        v, rest, overflow = _strtoll(raw, 8)
        if not overflow and not rest:
            return v
    if not nf:
        v = parse_ll(raw)
        if v is not None:
            return v
    if nf & MEM and nf & PCT:
        raise ConfigError("argument must be a memory or percent value")
    if nf & MEM:
        raise ConfigError("argument must be a memory value")
    if nf & OCT:
        raise ConfigError("argument couldn't be parsed as an octal number")
    raise ConfigError("argument couldn't be parsed into an integer")


def _check_numeric(spec, ll):
    """numericBoundaryCheck; returns the value to store."""
    if spec.unsigned:
        u = ll & ULLONG_MAX
        if u > spec.hi or u < spec.lo:
            fmt = "argument must be between %o and %o inclusive" if spec.nflags & OCT \
                else "argument must be between %d and %d inclusive"
            raise ConfigError(fmt % (spec.lo & ULLONG_MAX, spec.hi & ULLONG_MAX))
        return u
    if spec.nflags & PCT and ll < 0:
        if ll < spec.lo:
            raise ConfigError("percentage argument must be less or equal to %d" % -spec.lo)
    elif ll > spec.hi or ll < spec.lo:
        raise ConfigError("argument must be between %d and %d inclusive" % (spec.lo, spec.hi))
    return ll


def _format_numeric(spec, v):
    if spec.nflags & PCT and v < 0:
        return "%d%%" % -v
    if spec.nflags & MEM:
        return str(v & ULLONG_MAX)
    if spec.nflags & OCT:
        return "%o" % (v & ULLONG_MAX)
    return str(v)


# ---------------------------------------------------------------------------------------
# CONFIG REWRITE state
# ---------------------------------------------------------------------------------------
class _RewriteState:
    def __init__(self, force_write=False):
        self.lines = []
        self.option_to_line = {}
        self.rewritten = set()
        self.needs_signature = True
        self.force_write = force_write

    def mark(self, option):
        self.rewritten.add(option)

    def rewrite_line(self, option, line, force):
        """rewriteConfigRewriteLine."""
        self.mark(option)
        idxs = self.option_to_line.get(option)
        if not idxs and not force and not self.force_write:
            return
        if idxs:
            self.lines[idxs.pop(0)] = line
            if not idxs:
                del self.option_to_line[option]
        else:
            if self.needs_signature:
                self.lines.append(_REWRITE_SIGNATURE)
                self.needs_signature = False
            self.lines.append(line)

    def string_option(self, option, value, default):
        """rewriteConfigStringOption; value None means NULL."""
        if value is None:
            self.mark(option)
            return
        force = not (default is not None and value == default)
        self.rewrite_line(option, option.encode() + b" " + repr_bytes(value), force)

    def remove_orphaned(self):
        for option, idxs in self.option_to_line.items():
            if option in self.rewritten:
                for i in idxs:
                    self.lines[i] = b""
                idxs.clear()

    def content(self):
        out = []
        was_empty = False
        for line in self.lines:
            if not line:
                if was_empty:
                    continue
                was_empty = True
            else:
                was_empty = False
            out.append(line + b"\n")
        return b"".join(out)


# ---------------------------------------------------------------------------------------
# main(): building the options string from argv
# ---------------------------------------------------------------------------------------
def build_options(argv_options, have_config_file):
    """Return (options: bytes, config_from_stdin: bool) exactly as redis-server's main()
    builds them from the arguments after the optional config file path."""
    args = [os.fsencode(a) if isinstance(a, str) else bytes(a) for a in argv_options]
    first_j = 2 if have_config_file else 1
    argc = len(args) + first_j
    options = b""
    from_stdin = False
    handled_last = True
    for k, a in enumerate(args):
        j = k + first_j
        if a == b"-" and (j == 1 or j == argc - 1):
            from_stdin = True
        elif handled_last and a[:2] == b"--":
            if options:
                options += b"\n"
            options += _cstr(a[2:]) + b" "
            parts = split_args(_cstr(a))
            if parts is not None and len(parts) == 1:
                handled_last = False
                nxt = args[k + 1] if k + 1 < len(args) else None
                low = a.lower()
                if nxt is not None and nxt[:2] == b"--" and low == b"--save":
                    options += b'""'
                    handled_last = True
                elif nxt is None and low == b"--save":
                    options += b'""'
                elif nxt is not None and nxt[:2] == b"--" and low == b"--sentinel":
                    handled_last = True
            else:
                handled_last = True
        else:
            options += repr_bytes(_cstr(a)) + b" "
            handled_last = True
    return options, from_stdin


def _fatal_text(msg, linenum=None, line=None):
    text = "\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n" % REDIS_VERSION
    if linenum is not None:
        text += "Reading the configuration file, at line %d\n" % linenum
        text += ">>> '%s'\n" % _dec(line)
    return text + msg + "\n"


# ---------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------
class Config:
    """All directives of the server. ``values`` maps canonical name -> Python value."""

    def __init__(self):
        self.values = {}
        self.notify_flags = 0
        self.config_file = None
        self.renamed_commands = []      # (old, new) pairs from rename-command, in order
        self.user_directives = []       # raw "user ..." lines (str), in order
        self.user_directive_args = []   # the same, split: list[list[str]] (without "user")
        self.module_configs = {}        # "module.name" -> value (queued, like Redis)
        self.load_modules = []          # (path, [args]) from loadmodule
        # Optional hooks set by the server before load():
        self.command_names = None       # set of lower-case command names: validates rename-command
        self.user_validator = None      # callable(list[str]) raising ConfigError(full message)
        self.acl_rewrite_lines = None   # callable() -> list of "user ..." lines for REWRITE
        # sentinel mode (redislet/sentinel): queue(argv, (linenum, line)) for "sentinel ..."
        # lines, and rewrite(state) adding the sentinel state to CONFIG REWRITE
        self.sentinel_queue = None
        self.sentinel_rewrite = None
        self._linenum = (0, b"")
        self._hooks = {}
        self._reading_config_file = False
        self._save_loaded = False
        self._commands = None
        for spec in TABLE:
            self.values[spec.name] = self._initial(spec)

    def _initial(self, spec):
        if spec.kind == "special":
            return spec.ops[0](self)
        if spec.kind == "string":
            return spec.default if spec.default is not None else ""
        return spec.default

    # ---- reading ---------------------------------------------------------------------
    def get(self, name):
        found = lookup(name)
        if found is None:
            raise KeyError(name)
        return self.values[found[0].name]

    def __getitem__(self, name):
        return self.get(name)

    def format_value(self, name):
        """The CONFIG GET rendering of a directive (canonical or alias name)."""
        found = lookup(name)
        if found is None:
            raise KeyError(name)
        return self._format(found[0])

    def _format(self, spec):
        v = self.values[spec.name]
        kind = spec.kind
        if kind == "bool":
            return "yes" if v else "no"
        if kind == "numeric":
            return _format_numeric(spec, v)
        if kind == "special":
            return spec.ops[2](self)
        return v  # string, enum

    # ---- setting ---------------------------------------------------------------------
    def _set(self, spec, args):
        """The type's set(): args are bytes; returns True when the value changed (or the
        config is VOLATILE / special), False when unchanged. Raises ConfigError."""
        kind = spec.kind
        name = spec.name
        if kind == "special":
            return spec.ops[1](self, spec, args)
        arg = args[0] if args else b""
        if kind == "bool":
            low = _cstr(arg).lower()
            if low not in (b"yes", b"no"):
                raise ConfigError("argument must be 'yes' or 'no'")
            new = low == b"yes"
            if spec.validate:
                spec.validate(self, new)
        elif kind == "string":
            new = _dec(arg if name in _SDS_CONFIGS else _cstr(arg))
            if spec.validate:
                spec.validate(self, new)
        elif kind == "enum":
            multi = bool(spec.flags & MULTI_ARG)
            if not args or (not multi and len(args) != 1):
                raise _enum_error(spec)
            val = 0
            for a in args:
                a = _cstr(a).lower()
                hits = [v for n, v in spec.enum if n.encode() == a]
                if not hits:
                    raise _enum_error(spec)
                for v in hits:
                    val |= v
            if spec.validate:
                spec.validate(self, val)
            new = _enum_name(spec, val)
        else:
            ll = _parse_numeric(spec, arg)
            new = _check_numeric(spec, ll)
        if self.values[name] != new:
            self.values[name] = new
            return True
        return bool(spec.flags & VOLATILE)

    def set_directive(self, name, args):
        """Apply one directive with start-up (config file) semantics. Raises ConfigError."""
        argv = [_enc(name)] + [_enc(a) for a in args]
        prev = self._reading_config_file
        self._reading_config_file = True
        try:
            self._directive(argv)
        finally:
            self._reading_config_file = prev

    def _directive(self, argv):
        """One parsed config-file line (argv[0] is the directive name)."""
        argc = len(argv)
        name = argv[0].lower()
        found = lookup(name)
        if found:
            spec = found[0]
            if not spec.flags & MULTI_ARG and argc != 2:
                raise ConfigError("wrong number of arguments")
            if spec.flags & MULTI_ARG and argc == 2 and argv[1]:
                args = split_args(_cstr(argv[1])) or []
            else:
                args = argv[1:]
            self._set(spec, args)
            return
        dep = _DEPRECATED.get(name)
        if dep and dep[0] <= argc <= dep[1]:
            return
        if name == b"include" and argc == 2:
            self._load_server_config(os.fsdecode(_cstr(argv[1])), None, None)
        elif name == b"rename-command" and argc == 3:
            self._rename_command(argv[1], argv[2])
        elif name == b"user" and argc >= 2:
            args = [_dec(a) for a in argv[1:]]
            if self.user_validator is not None:
                self.user_validator(args)
            self.user_directives.append(" ".join(["user"] + args))
            self.user_directive_args.append(args)
        elif name == b"loadmodule" and argc >= 2:
            self.load_modules.append((_dec(argv[1]), [_dec(a) for a in argv[2:]]))
        elif b"." in name:
            if argc < 2:
                raise ConfigError("Module config specified without value")
            self.module_configs[_dec(name)] = " ".join(_dec(a) for a in argv[1:])
        elif name == b"sentinel":
            if argc != 1:
                if self.sentinel_queue is None:
                    raise ConfigError("sentinel directive while not in sentinel mode")
                # sentinel mode (redislet/sentinel): applied after the whole config is read
                self.sentinel_queue(argv[1:], self._linenum)
        else:
            raise ConfigError("Bad directive or wrong number of arguments")

    def _rename_command(self, old, new):
        if self.command_names is not None:
            if self._commands is None:
                self._commands = {c.lower() if isinstance(c, str) else _dec(c).lower()
                                  for c in self.command_names}
            o, n = _dec(old).lower(), _dec(new).lower()
            if o not in self._commands:
                raise ConfigError("No such command in rename-command")
            self._commands.discard(o)
            if n:
                if n in self._commands:
                    raise ConfigError("Target command name already exists")
                self._commands.add(n)
        self.renamed_commands.append((_dec(old), _dec(new)))

    # ---- start-up loading --------------------------------------------------------------
    def load(self, conf_path, argv_options, extra_text=None):
        """redis-server's start-up: the config file (if any), stdin, then the command-line
        options (argv after the optional config path). extra_text, when given, is used as
        the stdin config text ("-" argument) instead of reading sys.stdin.
        Raises FatalConfigError."""
        if conf_path is not None:
            self.config_file = get_absolute_path(conf_path)
        if conf_path is None and not argv_options and extra_text is None:
            return  # main() does not load anything with no arguments
        options, from_stdin = build_options(argv_options, conf_path is not None)
        stdin_text = None
        if extra_text is not None:
            stdin_text = _enc(extra_text)
        elif from_stdin:
            stdin_text = sys.stdin.buffer.read()
        self._load_server_config(self.config_file, stdin_text, options)
        if self.load_modules:
            raise FatalConfigError("Module %s failed to load: modules are not supported by "
                                   "this server" % self.load_modules[0][0], log=True)
        if self.module_configs:
            raise FatalConfigError("Module Configuration detected without loadmodule "
                                   "directive or no ApplyConfig call: aborting", log=True)

    def _read_file(self, path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except IsADirectoryError:
            return b""   # fopen() of a directory succeeds and reads nothing
        except OSError as e:
            raise FatalConfigError("Fatal error, can't open config file '%s': %s"
                                   % (path, os.strerror(e.errno)), log=True) from None

    def _load_server_config(self, filename, stdin_text, options):
        """loadServerConfig: file content (glob-expanded if it has wildcards), the stdin
        text, then "\\n" + options."""
        config = b""
        if filename:
            if any(c in filename for c in "*?["):
                for path in sorted(_glob.glob(filename)):
                    config += self._read_file(path)
            else:
                config += self._read_file(filename)
        if stdin_text is not None:
            config += stdin_text
        if options is not None:
            config += b"\n" + options
        self._load_from_string(config)

    def load_from_string(self, config):
        """loadServerConfigFromString on a str/bytes. Raises FatalConfigError."""
        self._load_from_string(_enc(config))

    def _load_from_string(self, config):
        self._reading_config_file = True
        lines = config.split(b"\n") if config else []
        for i, raw in enumerate(lines):
            line = raw.strip(b" \t\r\n")
            if not line or line[0] == 35:
                continue
            argv = split_args(_cstr(line))
            try:
                if argv is None:
                    raise ConfigError("Unbalanced quotes in configuration line")
                if not argv:
                    continue
                self._linenum = (i + 1, line)
                self._directive(argv)
            except ConfigError as e:
                self._reading_config_file = False
                raise FatalConfigError(_fatal_text(str(e), i + 1, line)) from None
        self._reading_config_file = False
        logfile = self.values["logfile"]
        if logfile:
            try:
                with open(_enc(logfile), "ab"):
                    pass
            except OSError as e:
                raise FatalConfigError(_fatal_text(
                    "Can't open the log file: %s" % os.strerror(e.errno))) from None
        if self.values["cluster-enabled"] and self.values["replicaof"]:
            raise FatalConfigError(_fatal_text("replicaof directive not allowed in cluster mode"))
        _apply_hz(self)
        _apply_watchdog_period(self)   # done by initServer()

    def validate_proc_title_template(self, template):
        """validateProcTitleTemplate with the current configuration."""
        v = self.values

        def var(n):
            if n == "title":
                return ""
            if n == "listen-addr":
                port = v["port"] or v["tls-port"]
                if port:
                    return "%s:%d" % (v["bind"][0] if v["bind"] else "*", port)
                return "unixsocket:%s" % (v["unixsocket"] or "(null)")
            if n == "server-mode":
                return "[cluster]" if v["cluster-enabled"] else ""
            if n == "config-file":
                return self.config_file or "-"
            if n == "port":
                return str(v["port"])
            if n == "tls-port":
                return str(v["tls-port"])
            if n == "unixsocket":
                return v["unixsocket"]
            return None

        res = []
        p = template.split("\0", 1)[0]
        while p:
            sv = p.find("{")
            if sv < 0:
                res.append(p)
                break
            res.append(p[:sv])
            p = p[sv + 1:]
            if not p:
                return False
            if p[0] == "{":
                res.append("{")
                p = p[1:]
                continue
            ev = p.find("}")
            if ev < 0:
                return False
            value = var(p[:ev])
            if value is None:
                return False
            res.append(value)
            p = p[ev + 1:]
        return "".join(res).strip(" ") != ""

    # ---- CONFIG GET ------------------------------------------------------------------------
    def config_get(self, patterns):
        """CONFIG GET <pattern> [<pattern> ...] -> [(name, value)] (configGetCommand)."""
        matches = {}   # lower-case name -> (name as replied, spec)
        for pat in patterns:
            pat = _enc(pat)
            if not any(c in pat for c in b"[*?"):
                key = _dec(pat)
                if key.lower() in matches:
                    continue
                found = lookup(pat)
                if found:
                    matches[key.lower()] = (key, found[0])
                continue
            for reg_name, (spec, _n) in _LOOKUP.items():
                if spec.flags & HIDDEN or reg_name in matches:
                    continue
                if _glob_match(pat, reg_name.encode(), nocase=True):
                    matches[reg_name] = (reg_name, spec)
        return [(name, self._format(spec)) for name, spec in matches.values()]

    # ---- CONFIG SET ------------------------------------------------------------------------
    def on_change(self, name, callback):
        """Register callback(new_value), called after CONFIG SET changes `name`. A callback
        may raise ConfigError(msg) to refuse the change (all changes are then rolled back).
        The same callback registered for several directives runs once per CONFIG SET."""
        spec = lookup(name)[0]
        self._hooks.setdefault(spec.name, []).append(callback)

    def _allow_protected(self, is_local):
        mode = self.values["enable-protected-configs"]
        return mode == "yes" or (mode == "local" and is_local)

    def config_set(self, pairs, is_local=False, loading=False):
        """CONFIG SET name value [name value ...] (configSetCommand); all-or-nothing.
        is_local: the client is local (for enable-protected-configs local);
        loading: the server is loading (DENY_LOADING configs are refused with -LOADING).
        Raises ConfigError with the full error text (without the leading '-')."""
        invalid_arg_name = err_arg_name = errstr = None
        invalid = deny_loading = False
        entries = []   # (spec, registered name, value)
        for name, value in pairs:
            name, value = _enc(name), _enc(value)
            found = lookup(name)
            if found is None:
                if not invalid:
                    invalid_arg_name = _dec(name)
                    invalid = True
                continue
            if invalid:
                continue
            spec, reg_name = found
            if spec.flags & IMMUTABLE or (spec.flags & PROTECTED
                                          and not self._allow_protected(is_local)):
                errstr = ("can't set immutable config" if spec.flags & IMMUTABLE
                          else "can't set protected config")
                err_arg_name = _dec(name)
                invalid = True     # (no continue: -LOADING wins, as in configSetCommand)
            if loading and spec.flags & DENY_LOADING:
                deny_loading = invalid = True
                continue
            if any(e[0] is spec and e[1] == reg_name for e in entries):
                errstr = "duplicate parameter"
                err_arg_name = _dec(name)
                invalid = True
                continue
            entries.append((spec, reg_name, value))

        if invalid:
            if deny_loading:
                raise ConfigError("LOADING Redis is loading the dataset in memory")
            if invalid_arg_name is not None:
                raise ConfigError("ERR Unknown option or number of arguments for CONFIG SET - "
                                  "'%s'" % invalid_arg_name)
            raise ConfigError("ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                              % (err_arg_name, errstr))

        backup = self._backup(entries)
        changed = []
        for spec, reg_name, value in entries:
            if spec.flags & MULTI_ARG:
                args = value.split(b" ") if value else []
            else:
                args = [value]
            try:
                if self._set(spec, args):
                    changed.append((spec, reg_name))
            except ConfigError as e:
                self._restore(backup)
                raise ConfigError("ERR CONFIG SET failed (possibly related to argument '%s') - "
                                  "%s" % (reg_name, e)) from None

        try:
            self._run_hooks(changed)
        except _HookFailed as f:
            self._restore(backup)
            try:
                self._run_hooks(changed)
            except _HookFailed:
                pass
            raise ConfigError("ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                              % (f.name, f.msg)) from None

    def _run_hooks(self, changed):
        """The apply phase: built-in apply then the on_change callbacks of each changed
        directive, in order, each distinct function once."""
        seen = set()
        for spec, reg_name in changed:
            builtin = BUILTIN_APPLY.get(spec.name)
            for fn in ([builtin] if builtin else []) + self._hooks.get(spec.name, []):
                if id(fn) in seen:
                    continue
                seen.add(id(fn))
                try:
                    if fn is builtin:
                        fn(self)
                    else:
                        fn(self.values[spec.name])
                except ConfigError as e:
                    raise _HookFailed(reg_name, str(e)) from None

    def _backup(self, entries):
        vals = {spec.name: copy.deepcopy(self.values[spec.name]) for spec, _, _ in entries}
        return vals, self.notify_flags

    def _restore(self, backup):
        vals, flags = backup
        for name, v in vals.items():
            if name == "dir":
                try:
                    os.chdir(v)
                except OSError:
                    pass
            self.values[name] = v
        self.notify_flags = flags

    # ---- CONFIG REWRITE ------------------------------------------------------------------
    def rewrite(self, path, force_write=False):
        """CONFIG REWRITE (rewriteConfig). Raises ConfigError."""
        if path is None:
            raise ConfigError("The server is running without a config file")
        try:
            st = self._rewrite_read_old(path)
        except OSError as e:
            raise ConfigError("Rewriting config file: %s" % os.strerror(e.errno)) from None
        st.force_write = force_write
        self._rewrite_all(st)
        if self.values["aclfile"]:
            st.mark("user")
        elif self.acl_rewrite_lines is not None:
            for line in self.acl_rewrite_lines():
                st.rewrite_line("user", _enc(line), True)
            st.mark("user")
        st.mark("loadmodule")
        if self.sentinel_rewrite is not None:
            self.sentinel_rewrite(st)
        st.remove_orphaned()
        try:
            self._overwrite_file(path, st.content())
        except OSError as e:
            raise ConfigError("Rewriting config file: %s" % os.strerror(e.errno)) from None

    def _rewrite_all(self, st):
        for spec in TABLE:
            self._rewrite_spec(spec, st)

    def _rewrite_spec(self, spec, st):
        name = spec.name
        v = self.values[name]
        kind = spec.kind
        if kind == "special":
            spec.ops[3](self, st, name)
        elif kind == "bool":
            st.rewrite_line(name, ("%s %s" % (name, "yes" if v else "no")).encode(),
                            v != spec.default)
        elif kind == "string":
            if v == "" and spec.default is None:
                st.mark(name)
            else:
                st.string_option(name, _enc(v), None if spec.default is None
                                 else spec.default.encode())
        elif kind == "enum":
            st.rewrite_line(name, ("%s %s" % (name, v)).encode(), v != spec.default)
        else:
            if spec.nflags & PCT and v < 0:
                line = "%s %d%%" % (name, -v)
                force = v != spec.default
            elif spec.nflags & MEM:
                line = "%s %s" % (name, _format_memory(v))
                force = _s64(v) != spec.default
            elif spec.nflags & OCT:
                line = "%s %o" % (name, v & ULLONG_MAX)
                force = v != spec.default
            else:
                line = "%s %d" % (name, _s64(v))
                force = _s64(v) != spec.default
            st.rewrite_line(name, line.encode(), force)

    def debug_info(self):
        """getConfigDebugInfo: the DEBUG_CONFIG directives as config lines."""
        st = _RewriteState(force_write=True)
        st.needs_signature = False
        for spec in TABLE:
            if spec.flags & DEBUG:
                self._rewrite_spec(spec, st)
        return st.content()

    def _rewrite_read_old(self, path):
        """rewriteConfigReadOldFile."""
        st = _RewriteState()
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return st
        if not data:
            return st
        for linenum, raw in enumerate(data.split(b"\n")):
            line = raw.strip(b"\r\n\t ")
            if not line or line[0] == 35:
                if st.needs_signature and line == _REWRITE_SIGNATURE:
                    st.needs_signature = False
                st.lines.append(line)
                continue
            argv = split_args(_cstr(line))
            known = argv and (lookup(argv[0]) is not None
                              or argv[0].lower() in _FILE_ONLY_DIRECTIVES)
            if not known:
                # unparsable, or a directive that no longer exists: keep as a comment
                st.lines.append(b"# ??? " + line)
                continue
            st.lines.append(line)
            found = lookup(argv[0])
            option = found[0].name if found else _dec(argv[0].lower())
            if option == "sentinel" and len(argv) > 1 and self.sentinel_rewrite is not None:
                option = "sentinel " + _dec(argv[1])     # one option per sentinel keyword
            st.option_to_line.setdefault(option, []).append(linenum)
        return st

    @staticmethod
    def _overwrite_file(path, content):
        """rewriteConfigOverwriteFile: temp file + fsync + chmod + rename + dir fsync."""
        d = os.path.dirname(path) or "."
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", dir=d)
        ok = False
        try:
            view = memoryview(content)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o644 & ~umask)
            os.rename(tmp, path)
            ok = True
            try:
                dfd = os.open(d, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            except OSError:
                pass
        finally:
            os.close(fd)
            if not ok:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


class _HookFailed(Exception):
    def __init__(self, name, msg):
        super().__init__(msg)
        self.name, self.msg = name, msg
