"""Server commands: TIME, LASTSAVE, SHUTDOWN, MONITOR, SLOWLOG, LATENCY (FUNCTION lives in
commands/scripting.py)."""
import time

from .table import command, all_commands
from .help import help_reply
from .introspection import lookup_by_name
from ..errors import CommandError, SYNTAX
from ..resp.encode import OK, bulk, integer, array

# -- TIME / LASTSAVE ----------------------------------------------------------------------


@command("time")
def time_(c, argv):
    t = time.time_ns() // 1000
    return array([b"%d" % (t // 1000000), b"%d" % (t % 1000000)])


@command("lastsave")
def lastsave(c, argv):
    return integer(c.server.lastsave)


# -- SHUTDOWN -----------------------------------------------------------------------------
@command("shutdown")
def shutdown(c, argv):
    nosave = save = now = force = abort = False
    for a in argv[1:]:
        a = a.lower()
        if a == b"nosave":
            nosave = True
        elif a == b"save":
            save = True
        elif a == b"now":
            now = True
        elif a == b"force":
            force = True
        elif a == b"abort":
            abort = True
        else:
            raise CommandError(SYNTAX)
    if (abort and (nosave or save or now or force)) or (nosave and save):
        raise CommandError(SYNTAX)
    srv = c.server
    if abort:
        cancel = getattr(srv, "abort_shutdown", None)
        if cancel is not None and cancel():
            return OK
        raise CommandError("ERR No shutdown in progress.")
    if not now and (c.in_exec or getattr(c, "deny_blocking", False)):
        raise CommandError("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING "
                           "client")
    err = srv.shutdown(save=True if save else False if nosave else None, now=now, force=force)
    if err is False:         # waiting for lagging replicas: blocked until the end
        return srv.repl.block_on_shutdown(c)
    if err is None:
        return None          # the server is going away: no reply, the connection closes
    raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.")


# -- MONITOR ------------------------------------------------------------------------------
@command("monitor")
def monitor(c, argv):
    if c.in_exec or getattr(c, "deny_blocking", False):
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if c.monitor or "S" in c.flags_extra:
        return None          # already a monitor (or a replica): ignored, no reply
    c.monitor = True
    c.server.monitors.append(c)
    return OK


# -- SLOWLOG ------------------------------------------------------------------------------
def _subcommand_syntax_error(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                        "Try %s HELP." % (argv[1].decode("utf-8", "replace"),
                                          argv[0].decode("utf-8", "replace").upper()))


@command("slowlog|help")
def slowlog_help(c, argv):
    return help_reply(argv, [
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    ])


@command("slowlog|reset")
def slowlog_reset(c, argv):
    c.server.slowlog.clear()
    return OK


@command("slowlog|len")
def slowlog_len(c, argv):
    return integer(len(c.server.slowlog))


@command("slowlog|get")
def slowlog_get(c, argv):
    if len(argv) > 3:
        raise _subcommand_syntax_error(argv)
    log = c.server.slowlog
    count = 10
    if len(argv) == 3:
        from ..util import parse_ll
        count = parse_ll(argv[2])
        if count is None or count < -1:
            raise CommandError("ERR count should be greater than or equal to -1")
        if count == -1:
            count = len(log)
    out = []
    for entry in log:
        if len(out) >= count:
            break
        eid, when, usec, args, peer, name = entry
        out.append(b"*6\r\n" + integer(eid) + integer(when) + integer(usec) + array(args)
                   + bulk(peer) + bulk(name))
    return b"*%d\r\n" % len(out) + b"".join(out)


# -- LATENCY ------------------------------------------------------------------------------
@command("latency|help")
def latency_help(c, argv):
    return help_reply(argv, [
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for "
        "the specified command names.",
        "    If no commands are specified then all histograms are replied.",
    ])


def _event_name(a):
    return a.decode("utf-8", "surrogateescape")


@command("latency|history")
def latency_history(c, argv):
    ts = c.server.latency_events.get(_event_name(argv[2]))
    if ts is None:
        return b"*0\r\n"
    return b"*%d\r\n" % len(ts[0]) + b"".join(
        b"*2\r\n" + integer(t) + integer(ms) for t, ms in ts[0])


@command("latency|latest")
def latency_latest(c, argv):
    events = c.server.latency_events
    out = [b"*%d\r\n" % len(events)]
    for name, (samples, worst) in events.items():
        t, ms = samples[-1]
        out.append(b"*4\r\n" + bulk(name.encode("utf-8", "surrogateescape")) + integer(t)
                   + integer(ms) + integer(worst))
    return b"".join(out)


@command("latency|reset")
def latency_reset(c, argv):
    events = c.server.latency_events
    if len(argv) == 2:
        n = len(events)
        events.clear()
        return integer(n)
    resets = 0
    for a in argv[2:]:
        want = _event_name(a).lower()
        for name in [e for e in events if e.lower() == want]:
            del events[name]
            resets += 1
    return integer(resets)


def _sparkline(samples, columns=80, rows=4):
    """sparklineRender with SPARKLINE_FILL: samples are (value, label)."""
    charset_fill = "_o#"
    out = []
    if not samples:
        return ""
    vmin = min(v for v, _ in samples)
    vmax = max(v for v, _ in samples)
    labels = sum(1 for _, lb in samples if lb)
    for start in range(0, len(samples), columns):
        part = samples[start:start + columns]
        if start:
            out.append("\n")
        relmax = vmax - vmin
        if relmax == 0:
            relmax = 1
        steps = len(charset_fill) * rows
        row = 0
        while True:
            loop = False
            chars = [" "] * len(part)
            for j, (value, label) in enumerate(part):
                step = int((value - vmin) * steps / relmax)
                step = max(0, min(step, steps - 1))
                if row < rows:
                    idx = step - (rows - row - 1) * len(charset_fill)
                    loop = True
                    if 0 <= idx < len(charset_fill):
                        chars[j] = charset_fill[idx]
                    elif idx >= len(charset_fill):
                        chars[j] = "|"
                else:
                    if labels and row - rows < 1:
                        loop = True
                        break
                    if label:
                        k = row - rows - 1
                        if len(label) > k:
                            loop = True
                            chars[j] = label[k]
            if not loop:
                break
            row += 1
            out.append("".join(chars) + "\n")
    return "".join(out)


@command("latency|graph")
def latency_graph(c, argv):
    name = _event_name(argv[2])
    ts = c.server.latency_events.get(name)
    if ts is None:
        raise CommandError("ERR No samples available for event '%s'" % name)
    samples, worst = ts
    now = int(time.time())
    seq = []
    for t, ms in samples:
        elapsed = now - t
        if elapsed < 60:
            label = "%ds" % elapsed
        elif elapsed < 3600:
            label = "%dm" % (elapsed // 60)
        elif elapsed < 86400:
            label = "%dh" % (elapsed // 3600)
        else:
            label = "%dd" % (elapsed // 86400)
        seq.append((ms, label))
    lo = min(ms for ms, _ in seq) if seq else 0
    hi = max(ms for ms, _ in seq) if seq else 0
    graph = "%s - high %d ms, low %d ms (all time high %d ms)\n" % (name, hi, lo, worst)
    graph += "-" * 80 + "\n" + _sparkline(seq)
    return c.r.verbatim(graph.encode("utf-8", "surrogateescape"))


_ADVICE = {
    "better_vm": "- If you are using a virtual machine, consider upgrading it with a faster one "
    "using a hypervisior that provides less latency during fork() calls. Xen is known to have "
    "poor fork() performance. Even in the context of the same VM provider, certain kinds of "
    "instances can execute fork faster than others.\n",
    "slowlog_inspect": "- Check your Slow Log to understand what are the commands you are "
    "running which are too slow to execute. Please check https://redis.io/commands/slowlog "
    "for more information.\n",
    "scheduler": "- The system is slow to execute Redis code paths not containing system "
    "calls. This usually means the system does not provide Redis CPU time to run for long "
    "periods. You should try to:\n"
    "  1) Lower the system load.\n"
    "  2) Use a computer / VM just for Redis if you are running other software in the same "
    "system.\n"
    "  3) Check if you have a \"noisy neighbour\" problem.\n"
    "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in "
    "your system.\n"
    "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, "
    "if you are using Jemalloc. However this may create fragmentation problems.\n",
    "local_disk": "- It is strongly advised to use local disks for persistence, especially if "
    "you are using AOF. Remote disks provided by platform-as-a-service providers are known to "
    "be slow.\n",
    "ssd": "- SSD disks are able to reduce fsync latency, and total time needed for "
    "snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely "
    "high write load SSD disks can be a good option. However Redis should perform reasonably "
    "with high load using normal disks. Use this advice as a last resort.\n",
    "data_writeback": "- Mounting ext3/4 filesystems with data=writeback can provide a "
    "performance boost compared to data=ordered, however this mode of operation provides less "
    "guarantees, and sometimes it can happen that after a hard crash the AOF file will have a "
    "half-written command at the end and will require to be repaired before Redis "
    "restarts.\n",
    "disk_contention": "- Try to lower the disk contention. This is often caused by other "
    "disk intensive processes running in the same computer (including other Redis "
    "instances).\n",
    "no_appendfsync": "- Assuming from the point of view of data safety this is viable in "
    "your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so "
    "that fsync will not be performed while there is a child rewriting the AOF file or "
    "producing an RDB file (the moment where there is high disk contention).\n",
    "relax_fsync": "- Your fsync policy is set to 'always'. It is very hard to get good "
    "performances with such a setup, if possible try to relax the fsync policy to "
    "'onesec'.\n",
    "write_load": "- Latency during the AOF atomic rename operation or when the final "
    "difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by "
    "very high write load, causing the AOF buffer to get very large. If possible try to send "
    "less commands to accomplish the same work, or use Lua scripts to group multiple "
    "operations into a single EVALSHA call.\n",
    "hz": "- In order to make the Redis keys expiring process more incremental, try to set "
    "the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n",
    "large_objects": "- Deleting, expiring or evicting (because of maxmemory policy) large "
    "objects is a blocking operation. If you have very large objects that are often deleted, "
    "expired, or evicted, try to fragment those objects into multiple smaller objects.\n",
    "mass_eviction": "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or "
    "allocation of large objects via sets or sorted sets intersections, STORE option of SORT, "
    "Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure "
    "forcing the server to block trying to evict keys. \n",
}

_EVENT_ADVICE = {
    "fast-command": ["scheduler"],
    "aof-write-pending-fsync": ["local_disk", "disk_contention", "ssd", "data_writeback"],
    "aof-write-active-child": ["no_appendfsync", "data_writeback", "ssd"],
    "aof-write-alone": ["local_disk", "data_writeback", "ssd"],
    "aof-fsync-always": ["relax_fsync"],
    "aof-fstat": ["disk_contention", "local_disk"],
    "rdb-unlink-temp-file": ["disk_contention", "local_disk"],
    "aof-rewrite-diff-write": ["write_load", "data_writeback", "ssd", "local_disk"],
    "aof-rename": ["write_load", "data_writeback", "ssd", "local_disk"],
    "expire-cycle": ["hz", "large_objects"],
    "eviction-del": ["large_objects"],
    "eviction-cycle": ["mass_eviction"],
}


def latency_report(srv):
    """createLatencyReport (LATENCY DOCTOR)."""
    v = srv.config.values
    threshold = v["latency-monitor-threshold"]
    events = srv.latency_events
    if not events and threshold == 0:
        return ("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
                "Redis instance. You may use \"CONFIG SET latency-monitor-threshold "
                "<milliseconds>.\" in order to enable it. If we weren't in a deep space "
                "mission I'd suggest to take a look at "
                "https://redis.io/topics/latency-monitor.\n")
    report = []
    advise = set()
    advices = 0
    now = int(time.time())
    for n, (name, (samples, worst)) in enumerate(events.items(), 1):
        if n == 1:
            report.append("Dave, I have observed latency spikes in this Redis instance. You "
                          "don't mind talking about it, do you Dave?\n\n")
        values = [ms for _t, ms in samples]
        count = len(values)
        avg = sum(values) // count if count else 0
        period = 0
        mad = 0
        if count:
            period = now - min(t for t, _ in samples) or 1
            mad = sum(abs(avg - ms) for ms in values) // count
        report.append("%d. %s: %d latency spikes (average %dms, mean deviation %dms, period "
                      "%.2f sec). Worst all time event %dms." % (
                          n, name, count, avg, mad, period / count if count else 0.0, worst))
        low = name.lower()
        if low == "fork":
            report.append(" Fork rate is %.2f GB/sec (%s)." % (0.0, "terrible"))
            advise.add("better_vm")
            advices += 1
        if low == "command":
            slower = v["slowlog-log-slower-than"]
            if slower < 0:
                advise.add("slowlog_enabled")
                advices += 1
            elif slower // 1000 > threshold:
                advise.add("slowlog_tuning")
                advices += 1
            advise.update(("slowlog_inspect", "large_objects"))
            advices += 2
        for a in _EVENT_ADVICE.get(low, ()):
            advise.add(a)
            advices += 1
        report.append("\n")
    if not events and not advices:
        report.append("Dave, no latency spike was observed during the lifetime of this Redis "
                      "instance, not in the slightest bit. I honestly think you ought to sit "
                      "down calmly, take a stress pill, and think things over.\n")
    elif events and not advices:
        report.append("\nWhile there are latency events logged, I'm not able to suggest any "
                      "easy fix. Please use the Redis community to get some help, providing "
                      "this report in your help request.\n")
    else:
        report.append("\nI have a few advices for you:\n\n")
        if "better_vm" in advise:
            report.append(_ADVICE["better_vm"])
        if "slowlog_enabled" in advise:
            report.append("- There are latency issues with potentially slow commands you are "
                          "using. Try to enable the Slow Log Redis feature using the command "
                          "'CONFIG SET slowlog-log-slower-than %d'. If the Slow log is "
                          "disabled Redis is not able to log slow commands execution for "
                          "you.\n" % (threshold * 1000))
        if "slowlog_tuning" in advise:
            report.append("- Your current Slow Log configuration only logs events that are "
                          "slower than your configured latency monitor threshold. Please use "
                          "'CONFIG SET slowlog-log-slower-than %d'.\n" % (threshold * 1000))
        for key in ("slowlog_inspect", "scheduler", "local_disk", "ssd", "data_writeback",
                    "disk_contention", "no_appendfsync"):
            if key in advise:
                report.append(_ADVICE[key])
        if "relax_fsync" in advise and v.get("appendfsync") == "always":
            report.append(_ADVICE["relax_fsync"])
        if "write_load" in advise:
            report.append(_ADVICE["write_load"])
        if "hz" in advise and v["hz"] < 100:
            report.append(_ADVICE["hz"])
        for key in ("large_objects", "mass_eviction"):
            if key in advise:
                report.append(_ADVICE[key])
    return "".join(report)


@command("latency|doctor")
def latency_doctor(c, argv):
    return c.r.verbatim(latency_report(c.server).encode("utf-8", "surrogateescape"))


def _command_cdf(r, cmd):
    from .info import hist_cdf
    h = cmd.histogram()
    cdf = hist_cdf(h)
    return (r.map_header(2) + bulk(b"calls") + integer(sum(h.values()))
            + bulk(b"histogram_usec") + r.map_header(len(cdf))
            + b"".join(integer(u) + integer(n) for u, n in cdf))


@command("latency|histogram")
def latency_histogram(c, argv):
    r = c.r
    out = []
    if len(argv) == 2:
        cmds = [x for x in all_commands() if x.calls_timed()]
    else:
        cmds = []
        for name in argv[2:]:
            cmd = lookup_by_name(name, c.server.commands)
            if cmd is None:
                continue
            if cmd.calls_timed():
                cmds.append(cmd)
            if cmd.subcommands:
                cmds.extend(s for s in cmd.subcommands.values() if s.calls_timed())
    for cmd in cmds:
        out.append(bulk(cmd.fullname.encode()) + _command_cdf(r, cmd))
    return r.map_header(len(out)) + b"".join(out)
