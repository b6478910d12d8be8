"""INFO [section ...] (server.c genRedisInfoString), Redis 7.0.15's sections and fields.

Every section is built as an ordered list of (field, value) pairs. Other families add or
replace fields without touching this file:

    from redislet.commands import info
    info.providers["persistence"].append(fn)   # fn(srv, pairs) -> pairs

`info.set_fields(pairs, {"rdb_saves": 3, ...})` replaces values in place (unknown fields are
appended). A provider may also return a completely new list (e.g. replication).
"""
import os
import resource
import sys
import time

from .table import command, COMMANDS
from .. import REDIS_VERSION
from .._build import compiled_in_use

DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication",
                    "cpu", "module_list", "errorstats", "cluster", "keyspace")
# every section, in genRedisInfoString's order
SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
            "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace")
providers = {name: [] for name in SECTIONS}


class _Pairs(list):
    """A section's (field, value) pairs with the position of each field, kept by
    set_fields (several providers update one section: one index, not one each)."""
    __slots__ = ("index",)


def set_fields(pairs, updates):
    """Replace the values of the named fields in pairs (appending new ones); returns pairs."""
    index = getattr(pairs, "index", None)
    if index is None:
        index = {k: i for i, (k, _v) in enumerate(pairs)}
        if type(pairs) is _Pairs:
            pairs.index = index
    for k, v in updates.items():
        i = index.get(k)
        if i is None:
            index[k] = len(pairs)
            pairs.append((k, v))
        else:
            pairs[i] = (k, v)
    return pairs


# -- helpers --------------------------------------------------------------------------------
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_rss():
    """Resident set size of this process in bytes (zmalloc_get_rss)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def system_memory():
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def used_memory(srv):
    """used_memory: the measure maxmemory is compared with (maxmemory.py: a start-up
    constant + client buffers + the estimated dataset; the process RSS would not go down
    when keys are freed); the peak is tracked as Redis does."""
    mm = getattr(srv, "maxmemory", None)
    if mm is not None:
        return mm.used()
    used = process_rss()
    if used > getattr(srv, "stat_peak_memory", 0):
        srv.stat_peak_memory = used
    return used


def bytes_to_human(n):
    """bytesToHuman."""
    n = float(n)
    if n < 1024:
        return "%dB" % n
    for unit, div in (("K", 1024), ("M", 1024 ** 2), ("G", 1024 ** 3), ("T", 1024 ** 4),
                      ("P", 1024 ** 5)):
        if n < div * 1024 or unit == "P":
            return "%.2f%s" % (n / div, unit)


def safe_info_string(s):
    """getSafeInfoString: ':', '#', CR and LF become '_'."""
    for ch in "#:\n\r":
        if ch in s:
            s = s.replace(ch, "_")
    return s


def _uname():
    u = os.uname()
    return "%s %s %s" % (u.sysname, u.release, u.machine)


_UNAME = _uname()
_GCC = "0.0.0"
try:
    # platform.python_compiler(), without importing platform at start-up
    _m = sys.version.rpartition("[")[2].rstrip("]") if "[" in sys.version else ""
    if _m.startswith("GCC "):
        _GCC = _m.split()[1]
except Exception:  # noqa: BLE001 - informational only
    pass
_BUILD_ID = "%015x" % (hash(REDIS_VERSION + sys.version) & ((1 << 60) - 1))


def _executable():
    path = sys.argv[0] if sys.argv and sys.argv[0] else sys.executable
    if path in ("-m", "-c"):
        path = sys.executable
    return os.path.abspath(path)


_EXECUTABLE = _executable()


# -- hdr histogram arithmetic (2 significant digits, 1ns..1s), for latency stats ------------
HIST_MAX_NS = 1000000000


def hdr_highest_equivalent(v):
    bucket = (v | 255).bit_length() - 8
    sub = v >> bucket
    rng = 1 << (bucket + 1 if sub >= 256 else bucket)
    return (sub << bucket) + rng - 1


def hdr_lowest_equivalent(v):
    bucket = (v | 255).bit_length() - 8
    return (v >> bucket) << bucket


def _ns(usec):
    v = usec * 1000
    return 1 if v < 1 else HIST_MAX_NS if v > HIST_MAX_NS else v


def hist_percentile(hist, total, p):
    """hdr_value_at_percentile over a {usec: count} histogram, in ns."""
    p = min(p, 100.0)
    want = max(1, int(p / 100 * total + 0.5))
    run = 0
    value = 0
    for usec in sorted(hist):
        run += hist[usec]
        value = _ns(usec)
        if run >= want:
            break
    if p == 0.0:
        return hdr_lowest_equivalent(value)
    return hdr_highest_equivalent(value)


def hist_cdf(hist):
    """The log2 iteration of fillCommandCDF: [(usec upper bound, cumulative calls)] for
    steps of 1024ns * 2^k holding calls."""
    out = []
    values = sorted((_ns(u), n) for u, n in hist.items())
    i, cum, level = 0, 0, 1024
    while i < len(values):
        top = hdr_highest_equivalent(level)
        added = 0
        while i < len(values) and values[i][0] <= top:
            added += values[i][1]
            i += 1
        if added:
            cum += added
            out.append((top // 1000, cum))
        level *= 2
    return out


def _trim_double(s):
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


# -- sections ------------------------------------------------------------------------------
def _server(srv):
    v = srv.config.values
    now = time.time()
    uptime = int(now - srv.start_time)
    return [
        ("redis_version", REDIS_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", _BUILD_ID),
        ("redis_mode", "cluster" if v.get("cluster-enabled") else "standalone"),
        ("os", _UNAME),
        ("arch_bits", 64),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll" if sys.platform.startswith("linux") else "kqueue"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", _GCC),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", srv.run_id),
        ("tcp_port", srv.port or v.get("tls-port", 0)),
        ("server_time_usec", int(now * 1000000)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", v["hz"]),
        ("configured_hz", v["hz"]),
        ("lru_clock", int(now) & ((1 << 24) - 1)),
        ("executable", _EXECUTABLE),
        ("config_file", srv.config.config_file or ""),
        ("io_threads_active", 0),
        # redislet's own: the modules running compiled (redislet/_build.py), or none
        ("redislet_compiled", ",".join(compiled_in_use()) or "none"),
    ]


def _is_replica_client(c):
    return "S" in c.flags_extra


def _clients(srv):
    clients = list(srv.clients.values())
    replicas = sum(1 for c in clients if _is_replica_client(c))
    in_timeout = sum(1 for c in clients if c.blocked is not None and c.blocked.timer is not None)
    max_in, max_out = srv.cmem.recent_max()      # (clientmem.py, the client cron)
    return [
        ("connected_clients", len(clients) - replicas),
        ("cluster_connections",
         srv.cluster.connections_count() if srv.cluster is not None else 0),
        ("maxclients", srv.config.values["maxclients"]),
        ("client_recent_max_input_buffer", max_in),
        ("client_recent_max_output_buffer", max_out),
        ("blocked_clients", srv.blocked_clients),
        ("tracking_clients", getattr(srv, "tracking_clients", 0)),
        ("clients_in_timeout_table", in_timeout),
    ]


def _memory(srv):
    v = srv.config.values
    used = used_memory(srv)
    rss = process_rss()
    peak = srv.stat_peak_memory
    startup = getattr(srv, "startup_memory", used)
    if startup > used:
        startup = used
    total_sys = system_memory()
    lua = getattr(srv, "used_memory_lua", 32768)
    functions_vm = getattr(srv, "used_memory_vm_functions", 33792)
    scripts_eval = getattr(srv, "used_memory_scripts_eval", 0)
    functions_mem = getattr(srv, "used_memory_functions", 200)
    clients_normal = srv.cmem.clients_memory()      # (clientmem.py)
    overhead = startup + clients_normal
    dataset = max(0, used - overhead)
    net = used - startup
    dataset_perc = dataset * 100.0 / net if net > 0 else 0.0
    maxmemory = v["maxmemory"]
    return [
        ("used_memory", used),
        ("used_memory_human", bytes_to_human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", bytes_to_human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", bytes_to_human(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (used * 100.0 / peak if peak else 0)),
        ("used_memory_overhead", overhead),
        ("used_memory_startup", startup),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", "%.2f%%" % dataset_perc),
        ("allocator_allocated", used),
        ("allocator_active", used),
        ("allocator_resident", used),
        ("total_system_memory", total_sys),
        ("total_system_memory_human", bytes_to_human(total_sys)),
        ("used_memory_lua", lua),
        ("used_memory_vm_eval", lua),
        ("used_memory_lua_human", bytes_to_human(lua)),
        ("used_memory_scripts_eval", scripts_eval),
        ("number_of_cached_scripts", getattr(srv, "number_of_cached_scripts", 0)),
        ("number_of_functions", getattr(srv, "number_of_functions", 0)),
        ("number_of_libraries", getattr(srv, "number_of_libraries", 0)),
        ("used_memory_vm_functions", functions_vm),
        ("used_memory_vm_total", functions_vm + lua),
        ("used_memory_vm_total_human", bytes_to_human(functions_vm + lua)),
        ("used_memory_functions", functions_mem),
        ("used_memory_scripts", functions_mem + scripts_eval),
        ("used_memory_scripts_human", bytes_to_human(functions_mem + scripts_eval)),
        ("maxmemory", maxmemory),
        ("maxmemory_human", bytes_to_human(maxmemory)),
        ("maxmemory_policy", v["maxmemory-policy"]),
        ("allocator_frag_ratio", "1.00"),
        ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", "1.00"),
        ("allocator_rss_bytes", 0),
        ("rss_overhead_ratio", "1.00"),
        ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", "1.00"),
        ("mem_fragmentation_bytes", 0),
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", clients_normal),
        ("mem_cluster_links", srv.cluster.links_memory if srv.cluster is not None else 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "libc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", srv.lazyfree.pending),
        ("lazyfreed_objects", getattr(srv, "stat_lazyfreed_objects", 0)),
    ]


def _persistence(srv):
    return [
        ("loading", int(bool(srv.loading))),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", srv.dirty),
        ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", srv.lastsave),
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", -1),
        ("rdb_current_bgsave_time_sec", -1),
        ("rdb_saves", 0),
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", 0),
        ("rdb_last_load_keys_loaded", 0),
        ("aof_enabled", 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0),
        ("aof_rewrites_consecutive_failures", 0),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


def _stats(srv):
    g = lambda name, default=0: getattr(srv, name, default)
    return [
        ("total_connections_received", srv.stat_numconnections),
        ("total_commands_processed", srv.stat_numcommands),
        ("instantaneous_ops_per_sec", int(srv.instantaneous(1))),
        ("total_net_input_bytes", srv.stat_net_input_bytes + g("stat_net_repl_input_bytes")),
        ("total_net_output_bytes", srv.stat_net_output_bytes
         + g("stat_net_repl_output_bytes")),
        ("total_net_repl_input_bytes", g("stat_net_repl_input_bytes")),
        ("total_net_repl_output_bytes", g("stat_net_repl_output_bytes")),
        ("instantaneous_input_kbps", "%.2f" % (srv.instantaneous(2) / 1024)),
        ("instantaneous_output_kbps", "%.2f" % (srv.instantaneous(3) / 1024)),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", srv.stat_rejected_conn),
        ("sync_full", g("stat_sync_full")),
        ("sync_partial_ok", g("stat_sync_partial_ok")),
        ("sync_partial_err", g("stat_sync_partial_err")),
        ("expired_keys", srv.stat_expired_keys),
        ("expired_stale_perc", "%.2f" % (g("stat_expired_stale_perc", 0.0) * 100)),
        ("expired_time_cap_reached_count", g("stat_expired_time_cap_reached_count")),
        ("expire_cycle_cpu_milliseconds", g("stat_expire_cycle_time_used") // 1000),
        ("evicted_keys", srv.stat_evicted_keys),
        ("evicted_clients", g("stat_evicted_clients")),
        ("total_eviction_exceeded_time", g("stat_total_eviction_exceeded_time")),
        ("current_eviction_exceeded_time", srv.maxmemory.current_exceeded_us()
         if hasattr(srv, "maxmemory") else 0),
        ("keyspace_hits", srv.stat_keyspace_hits),
        ("keyspace_misses", srv.stat_keyspace_misses),
        ("pubsub_channels", len(srv.pubsub_channels)),
        ("pubsub_patterns", len(srv.pubsub_patterns)),
        ("pubsubshard_channels", len(srv.pubsub_shard)),
        ("latest_fork_usec", g("stat_fork_time")),
        ("total_forks", g("stat_total_forks")),
        ("migrate_cached_sockets", g("migrate_cached_sockets_count")),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", g("tracking_total_keys")),
        ("tracking_total_items", g("tracking_total_items")),
        ("tracking_total_prefixes", g("tracking_total_prefixes")),
        ("unexpected_error_replies", srv.stat_unexpected_error_replies),
        ("total_error_replies", srv.stat_total_error_replies),
        ("dump_payload_sanitizations", g("stat_dump_payload_sanitizations")),
        ("total_reads_processed", srv.stat_total_reads_processed),
        ("total_writes_processed", srv.stat_total_writes_processed),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", g("stat_reply_buffer_shrinks")),
        ("reply_buffer_expands", g("stat_reply_buffer_expands")),
    ]


def _replication(srv):
    v = srv.config.values
    replid = getattr(srv, "replid", None)
    if replid is None:
        replid = srv.replid = os.urandom(20).hex()
    return [
        ("role", "slave" if srv.is_replica else "master"),
        ("connected_slaves", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", replid),
        ("master_replid2", getattr(srv, "replid2", "0" * 40)),
        ("master_repl_offset", getattr(srv, "master_repl_offset", 0)),
        ("second_repl_offset", getattr(srv, "second_replid_offset", -1)),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", v["repl-backlog-size"]),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]


def _tv(t):
    sec = int(t)
    return "%d.%06d" % (sec, int(round((t - sec) * 1000000)) % 1000000)


def _cpu(srv):
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = [
        ("used_cpu_sys", _tv(me.ru_stime)),
        ("used_cpu_user", _tv(me.ru_utime)),
        ("used_cpu_sys_children", _tv(ch.ru_stime)),
        ("used_cpu_user_children", _tv(ch.ru_utime)),
    ]
    thread = getattr(resource, "RUSAGE_THREAD", None)
    if thread is not None:
        try:
            th = resource.getrusage(thread)
            out.append(("used_cpu_sys_main_thread", _tv(th.ru_stime)))
            out.append(("used_cpu_user_main_thread", _tv(th.ru_utime)))
        except (OSError, ValueError):
            pass
    return out


def _modules(srv):
    return []


def _all_commands_in_order():
    for cmd in COMMANDS.values():
        yield cmd
        if cmd.subcommands:
            yield from cmd.subcommands.values()


def _commandstats(srv):
    out = []
    for cmd in _all_commands_in_order():
        if cmd.calls or cmd.failed_calls or cmd.rejected_calls:
            out.append(("cmdstat_" + safe_info_string(cmd.fullname),
                        "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d"
                        % (cmd.calls, cmd.usec, cmd.usec / cmd.calls if cmd.calls else 0,
                           cmd.rejected_calls, cmd.failed_calls)))
    return out


def _errorstats(srv):
    return [("errorstat_" + safe_info_string(code), "count=%d" % n)
            for code, n in sorted(srv.errors.items(), key=lambda kv: kv[0].encode())]


def _latencystats(srv):
    if not srv.config.values["latency-tracking"]:
        return []
    pcts = srv.config.values["latency-tracking-info-percentiles"]
    out = []
    for cmd in _all_commands_in_order():
        h = cmd.histogram()
        if not h:
            continue
        total = sum(h.values())
        out.append(("latency_percentiles_usec_" + safe_info_string(cmd.fullname), ",".join(
            "p%s=%.3f" % (_trim_double("%f" % p), hist_percentile(h, total, p) / 1000.0)
            for p in pcts)))
    return out


def _cluster(srv):
    return [("cluster_enabled", int(bool(srv.config.values.get("cluster-enabled"))))]


def _keyspace(srv):
    out = []
    for db in srv.dbs:
        keys, vkeys = len(db.data), len(db.expires)
        if keys or vkeys:
            out.append(("db%d" % db.id, "keys=%d,expires=%d,avg_ttl=%d"
                        % (keys, vkeys, getattr(db, "avg_ttl", 0))))
    return out


_GENERATORS = {
    "server": ("Server", _server), "clients": ("Clients", _clients),
    "memory": ("Memory", _memory), "persistence": ("Persistence", _persistence),
    "stats": ("Stats", _stats), "replication": ("Replication", _replication),
    "cpu": ("CPU", _cpu), "modules": ("Modules", _modules),
    "commandstats": ("Commandstats", _commandstats), "errorstats": ("Errorstats", _errorstats),
    "latencystats": ("Latencystats", _latencystats), "cluster": ("Cluster", _cluster),
    "keyspace": ("Keyspace", _keyspace),
}


def section_pairs(srv, name):
    """The (field, value) pairs of one section, with the providers of other families."""
    pairs = _GENERATORS[name][1](srv)
    fns = providers[name]
    if fns:
        pairs = _Pairs(pairs)
        for fn in fns:
            res = fn(srv, pairs)
            if res is not None:
                pairs = res
    return pairs


def wanted_sections(args):
    """genInfoSectionDict: (set of lower-case names, all, everything)."""
    if not args:
        return set(DEFAULT_SECTIONS), False, False
    names = set()
    all_ = everything = False
    for a in args:
        a = a.decode("utf-8", "surrogateescape").lower()
        if a == "default":
            names.update(DEFAULT_SECTIONS)
        elif a == "all":
            all_ = True
        elif a == "everything":
            everything = all_ = True
        else:
            names.add(a)
    return names, all_, everything


def info_string(srv, args=()):
    """genRedisInfoString."""
    names, all_, _everything = wanted_sections(args)
    parts = []
    for name in SECTIONS:
        if not all_ and name not in names and not (
                name == "modules" and "module_list" in names):
            continue
        title = _GENERATORS[name][0]
        lines = ["# %s\r\n" % title]
        for k, v in section_pairs(srv, name):
            lines.append("%s:%s\r\n" % (k, v))
        parts.append("".join(lines))
    return "\r\n".join(parts)


def info_field(srv, section, field):
    """One INFO field's value as a string (for other modules and tests), or None."""
    for k, v in section_pairs(srv, section):
        if k == field:
            return str(v)
    return None


@command("info")
def info(c, argv):
    text = info_string(c.server, argv[1:]).encode("utf-8", "surrogateescape")
    return c.r.verbatim(text)


def _init(srv):
    srv.stat_peak_memory = 0
    from ..maxmemory import STARTUP
    srv.startup_memory = STARTUP   # used_memory_startup, in used_memory's measure


from .. import hooks  # noqa: E402
hooks.server_init.append(_init)
