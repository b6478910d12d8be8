"""The command table of a Sentinel: only the commands Redis 7.0.15 flags SENTINEL (PING,
INFO, ROLE, CLIENT, COMMAND, ACL, AUTH, HELLO, SUBSCRIBE..., SHUTDOWN, PUBLISH) plus the
ONLY_SENTINEL SENTINEL command; INFO, ROLE and PUBLISH have their sentinel versions
(sentinelInfoCommand, sentinelRoleCommand, sentinelPublishCommand)."""
import json
import os

from ..commands import table
from ..commands.help import help_reply
from ..errors import CommandError
from ..resp.encode import OK, array, bulk, integer
from ..util import parse_ll
from . import core
from .core import (SRI_MASTER, SRI_SLAVE, SRI_SENTINEL, SRI_S_DOWN, SRI_O_DOWN,
                   SRI_MASTER_DOWN, SRI_FAILOVER_IN_PROGRESS, SRI_PROMOTED, SRI_RECONF_SENT,
                   SRI_RECONF_INPROG, SRI_RECONF_DONE, SRI_FORCE_FAILOVER,
                   SRI_SCRIPT_KILL_SENT, LINK_UP, AddrError, mstime)

_SPEC_PATH = os.path.join(os.path.dirname(__file__), "sentinel_spec.json")

HELP = [
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value>",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param>",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "INFO-CACHE <master-name>",
    "    Return last cached INFO output from masters and all its replicas.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>",
    "    Show a list of replicas for this master and their state.",
    "RESET <pattern>",
    "    Reset masters for specific master name matching this pattern.",
    "SENTINELS <master-name>",
    "    Show a list of Sentinel instances for this master and their state.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Set configuration parameters for certain masters.",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Simulate a Sentinel crash.",
]

DEBUG_PARAMS = [("info-period", "info_period"), ("ping-period", "ping_period"),
                ("ask-period", "ask_period"), ("publish-period", "publish_period"),
                ("default-down-after", "default_down_after"),
                ("tilt-trigger", "tilt_trigger"), ("tilt-period", "tilt_period"),
                ("slave-reconf-timeout", "slave_reconf_timeout"),
                ("min-link-reconnect-period", "min_link_reconnect_period"),
                ("default-failover-timeout", "default_failover_timeout"),
                ("election-timeout", "election_timeout"),
                ("script-max-runtime", "script_max_runtime"),
                ("script-retry-delay", "script_retry_delay")]
DEBUG_INFO_ORDER = ["info_period", "ping_period", "ask_period", "publish_period",
                    "default_down_after", "default_failover_timeout", "tilt_trigger",
                    "tilt_period", "slave_reconf_timeout", "min_link_reconnect_period",
                    "election_timeout", "script_max_runtime", "script_retry_delay"]


def _s(b):
    return b.decode("utf-8", "surrogateescape")


def _b(s):
    return s.encode("utf-8", "surrogateescape")


def _bulk_ll(n):
    return bulk(b"%d" % n)


def _err(msg):
    """addReplyError: a text starting with '-' is sent as it is, else with ERR."""
    if msg.startswith("-"):
        return b"-" + _b(msg[1:]) + b"\r\n"
    return b"-ERR " + _b(msg) + b"\r\n"


def _sentinel(c):
    return c.server.sentinel


def _master_or_error(c, name):
    ri = _sentinel(c).masters.get(_s(name))
    if ri is None:
        raise CommandError("ERR No such master with that name")
    return ri


def instance_reply(c, ri):
    """addReplySentinelRedisInstance."""
    S = _sentinel(c)
    now = mstime()
    p = [(b"name", bulk(_b(ri.name))), (b"ip", bulk(_b(S.announce_addr(ri.addr)))),
         (b"port", _bulk_ll(ri.addr.port)), (b"runid", bulk(_b(ri.runid or "")))]
    fl = []
    f = ri.flags
    for bit, name in ((SRI_S_DOWN, "s_down"), (SRI_O_DOWN, "o_down"), (SRI_MASTER, "master"),
                      (SRI_SLAVE, "slave"), (SRI_SENTINEL, "sentinel")):
        if f & bit:
            fl.append(name)
    if ri.link.disconnected:
        fl.append("disconnected")
    for bit, name in ((SRI_MASTER_DOWN, "master_down"),
                      (SRI_FAILOVER_IN_PROGRESS, "failover_in_progress"),
                      (SRI_PROMOTED, "promoted"), (SRI_RECONF_SENT, "reconf_sent"),
                      (SRI_RECONF_INPROG, "reconf_inprog"), (SRI_RECONF_DONE, "reconf_done"),
                      (SRI_FORCE_FAILOVER, "force_failover"),
                      (SRI_SCRIPT_KILL_SENT, "script_kill_sent")):
        if f & bit:
            fl.append(name)
    p.append((b"flags", bulk(_b(",".join(fl)))))
    p.append((b"link-pending-commands", _bulk_ll(ri.link.pending_commands)))
    p.append((b"link-refcount", _bulk_ll(ri.link.refcount)))
    if f & SRI_FAILOVER_IN_PROGRESS:
        p.append((b"failover-state", bulk(_b(core.FO_NAMES[ri.failover_state]))))
    p.append((b"last-ping-sent", _bulk_ll(now - ri.link.act_ping_time
                                          if ri.link.act_ping_time else 0)))
    p.append((b"last-ok-ping-reply", _bulk_ll(now - ri.link.last_avail_time)))
    p.append((b"last-ping-reply", _bulk_ll(now - ri.link.last_pong_time)))
    if f & SRI_S_DOWN:
        p.append((b"s-down-time", _bulk_ll(now - ri.s_down_since_time)))
    if f & SRI_O_DOWN:
        p.append((b"o-down-time", _bulk_ll(now - ri.o_down_since_time)))
    p.append((b"down-after-milliseconds", _bulk_ll(ri.down_after_period)))
    if f & (SRI_MASTER | SRI_SLAVE):
        p.append((b"info-refresh", _bulk_ll(now - ri.info_refresh if ri.info_refresh else 0)))
        p.append((b"role-reported", bulk(b"master" if ri.role_reported == SRI_MASTER
                                         else b"slave")))
        p.append((b"role-reported-time", _bulk_ll(now - ri.role_reported_time)))
    if f & SRI_MASTER:
        p.append((b"config-epoch", _bulk_ll(ri.config_epoch)))
        p.append((b"num-slaves", _bulk_ll(len(ri.slaves))))
        p.append((b"num-other-sentinels", _bulk_ll(len(ri.sentinels))))
        p.append((b"quorum", _bulk_ll(ri.quorum)))
        p.append((b"failover-timeout", _bulk_ll(ri.failover_timeout)))
        p.append((b"parallel-syncs", _bulk_ll(ri.parallel_syncs)))
        if ri.notification_script:
            p.append((b"notification-script", bulk(_b(ri.notification_script))))
        if ri.client_reconfig_script:
            p.append((b"client-reconfig-script", bulk(_b(ri.client_reconfig_script))))
    if f & SRI_SLAVE:
        p.append((b"master-link-down-time", _bulk_ll(ri.master_link_down_time)))
        p.append((b"master-link-status", bulk(b"ok" if ri.slave_master_link_status == LINK_UP
                                              else b"err")))
        p.append((b"master-host", bulk(_b(ri.slave_master_host or "?"))))
        p.append((b"master-port", _bulk_ll(ri.slave_master_port)))
        p.append((b"slave-priority", _bulk_ll(ri.slave_priority)))
        p.append((b"slave-repl-offset", _bulk_ll(ri.slave_repl_offset)))
        p.append((b"replica-announced", _bulk_ll(ri.replica_announced)))
    if f & SRI_SENTINEL:
        p.append((b"last-hello-message", _bulk_ll(now - ri.last_hello_time)))
        p.append((b"voted-leader", bulk(_b(ri.leader or "?"))))
        p.append((b"voted-leader-epoch", _bulk_ll(ri.leader_epoch)))
    return c.r.map([(bulk(k), v) for k, v in p])


def dict_reply(c, instances):
    items = [instance_reply(c, ri) for ri in list(instances.values())
             if not (ri.flags & SRI_SLAVE and not ri.replica_announced)]
    return b"*%d\r\n" % len(items) + b"".join(items)


def _flush_reply(S):
    if not S.flush_config():
        return _err("Failed to save config file. Check server logs.")
    return OK


# ---- SENTINEL subcommands -------------------------------------------------------------------
def s_help(c, argv):
    return help_reply(argv, HELP)


def s_masters(c, argv):
    return dict_reply(c, _sentinel(c).masters)


def s_master(c, argv):
    return instance_reply(c, _master_or_error(c, argv[2]))


def s_replicas(c, argv):
    return dict_reply(c, _master_or_error(c, argv[2]).slaves)


def s_sentinels(c, argv):
    return dict_reply(c, _master_or_error(c, argv[2]).sentinels)


def s_myid(c, argv):
    return bulk(_b(_sentinel(c).myid))


def s_is_master_down_by_addr(c, argv):
    S = _sentinel(c)
    port = parse_ll(argv[3])
    req_epoch = parse_ll(argv[4])
    if port is None or req_epoch is None:
        raise CommandError("ERR value is not an integer or out of range")
    ri = S.get_by_addr_and_runid(S.masters, _s(argv[2]), port, None)
    isdown = bool(not S.tilt and ri is not None and ri.flags & SRI_S_DOWN
                  and ri.flags & SRI_MASTER)
    leader = None
    leader_epoch = 0
    if ri is not None and ri.flags & SRI_MASTER and argv[5].lower() != b"*":
        leader, leader_epoch = S.vote_leader(ri, req_epoch % (1 << 64), _s(argv[5]))
    return (b"*3\r\n" + integer(1 if isdown else 0) + bulk(_b(leader or "*"))
            + integer(leader_epoch))


def s_reset(c, argv):
    return integer(_sentinel(c).reset_masters_by_pattern(_s(argv[2])))


def s_get_master_addr_by_name(c, argv):
    S = _sentinel(c)
    ri = S.masters.get(_s(argv[2]))
    if ri is None:
        return c.r.null_array
    addr = S.current_master_address(ri)
    return b"*2\r\n" + bulk(_b(S.announce_addr(addr))) + _bulk_ll(addr.port)


def s_failover(c, argv):
    S = _sentinel(c)
    ri = _master_or_error(c, argv[2])
    if ri.flags & SRI_FAILOVER_IN_PROGRESS:
        return _err("-INPROG Failover already in progress")
    if S.select_slave(ri) is None:
        return _err("-NOGOODSLAVE No suitable replica to promote")
    S.log(core.LL_WARNING, "Executing user requested FAILOVER of '%s'" % ri.name)
    S.start_failover(ri)
    ri.flags |= SRI_FORCE_FAILOVER
    return OK


def s_pending_scripts(c, argv):
    S = _sentinel(c)
    out = [b"*%d\r\n" % len(S.scripts_queue)]
    now = mstime()
    for sj in S.scripts_queue:
        pairs = [(bulk(b"argv"), array([_b(a) for a in sj.argv])),
                 (bulk(b"flags"), bulk(b"running" if sj.running else b"scheduled")),
                 (bulk(b"pid"), _bulk_ll(sj.pid))]
        if sj.running:
            pairs.append((bulk(b"run-time"), _bulk_ll(now - sj.start_time)))
        else:
            delay = max(0, sj.start_time - now) if sj.start_time else 0
            pairs.append((bulk(b"run-delay"), _bulk_ll(delay)))
        pairs.append((bulk(b"retry-num"), _bulk_ll(sj.retry_num)))
        out.append(c.r.map(pairs))
    return b"".join(out)


def s_monitor(c, argv):
    S = _sentinel(c)
    quorum = parse_ll(argv[5])
    if quorum is None or not -(1 << 63) <= quorum < (1 << 63):
        raise CommandError("ERR Invalid quorum")
    port = parse_ll(argv[4])
    if port is None:
        raise CommandError("ERR Invalid port")
    if quorum <= 0:
        raise CommandError("ERR Quorum must be 1 or greater.")
    if S.resolve(_s(argv[3])) is None:
        raise CommandError("ERR Invalid IP address or hostname specified")
    try:
        ri = S.create_instance(_s(argv[2]), SRI_MASTER, _s(argv[3]), port, quorum, None)
    except AddrError as e:
        raise CommandError("ERR " + S.create_error(e.code, SRI_MASTER)) from None
    reply = _flush_reply(S)
    S.event(core.LL_WARNING, "+monitor", ri, " quorum %d", ri.quorum, at=True)
    return reply


def s_flushconfig(c, argv):
    return _flush_reply(_sentinel(c))


def s_remove(c, argv):
    S = _sentinel(c)
    ri = _master_or_error(c, argv[2])
    S.event(core.LL_WARNING, "-monitor", ri, at=True)
    del S.masters[ri.name]
    S.release_instance(ri)
    return _flush_reply(S)


def s_ckquorum(c, argv):
    S = _sentinel(c)
    ri = _master_or_error(c, argv[2])
    result, usable = S.is_quorum_reachable(ri)
    if result == 0:
        return (b"+OK %d usable Sentinels. Quorum and failover authorization can be "
                b"reached\r\n" % usable)
    e = "-NOQUORUM %d usable Sentinels. " % usable
    if result & 1:
        e += "Not enough available Sentinels to reach the specified quorum for this master"
    if result & 2:
        if result & 1:
            e += ". "
        e += "Not enough available Sentinels to reach the majority and authorize a failover"
    return _err(e)


def s_set(c, argv):
    S = _sentinel(c)
    ri = _master_or_error(c, argv[2])
    changes = 0
    j = 3
    argc = len(argv)
    reply = None
    while j < argc:
        moreargs = argc - 1 - j
        option = _s(argv[j])
        opt = option.lower()
        old_j = j
        redacted = False
        badarg = None
        if opt in ("down-after-milliseconds", "failover-timeout", "parallel-syncs", "quorum",
                   "master-reboot-down-after-period") and moreargs > 0:
            j += 1
            ll = parse_ll(argv[j])
            low = 0 if opt == "master-reboot-down-after-period" else 1
            if ll is None or ll < low:
                badarg = j
            else:
                if opt == "down-after-milliseconds":
                    ri.down_after_period = ll
                    S.propagate_down_after_period(ri)
                elif opt == "failover-timeout":
                    ri.failover_timeout = ll
                elif opt == "parallel-syncs":
                    ri.parallel_syncs = ll
                elif opt == "quorum":
                    ri.quorum = ll
                else:
                    ri.master_reboot_down_after_period = ll
                changes += 1
        elif opt in ("notification-script", "client-reconfig-script") and moreargs > 0:
            j += 1
            value = _s(argv[j])
            if S.deny_scripts_reconfig:
                reply = _err("Reconfiguration of scripts path is denied for security reasons. "
                             "Check the deny-scripts-reconfig configuration directive in your "
                             "Sentinel configuration")
                break
            if value and not os.access(value, os.X_OK):
                reply = _err("Notification script seems non existing or non executable"
                             if opt == "notification-script" else
                             "Client reconfiguration script seems non existing or "
                             "non executable")
                break
            if opt == "notification-script":
                ri.notification_script = value or None
            else:
                ri.client_reconfig_script = value or None
            changes += 1
        elif opt == "auth-pass" and moreargs > 0:
            j += 1
            ri.auth_pass = _s(argv[j]) or None
            S.drop_instance_connections(ri)
            changes += 1
            redacted = True
        elif opt == "auth-user" and moreargs > 0:
            j += 1
            ri.auth_user = _s(argv[j]) or None
            S.drop_instance_connections(ri)
            changes += 1
        elif opt == "rename-command" and moreargs > 1:
            oldname, newname = _s(argv[j + 1]), _s(argv[j + 2])
            j += 2
            if not oldname or not newname:
                badarg = j - 1 if newname else j
            else:
                ri.renamed_commands.pop(oldname.lower(), None)
                if oldname.lower() != newname.lower():
                    ri.renamed_commands[oldname.lower()] = (oldname, newname)
                changes += 1
        else:
            reply = _err("Unknown option or number of arguments for SENTINEL SET '%s'"
                         % option)
            break
        if badarg is not None:
            reply = _err("Invalid argument '%s' for SENTINEL SET '%s'" % (_s(argv[badarg]),
                                                                        option))
            break
        numargs = j - old_j + 1
        if numargs == 2:
            S.event(core.LL_WARNING, "+set", ri, " %s %s", _s(argv[old_j]),
                    "******" if redacted else _s(argv[old_j + 1]), at=True)
        elif numargs == 3:
            S.event(core.LL_WARNING, "+set", ri, " %s %s %s", _s(argv[old_j]),
                    _s(argv[old_j + 1]), _s(argv[old_j + 2]), at=True)
        else:
            S.event(core.LL_WARNING, "+set", ri, " %s", _s(argv[old_j]), at=True)
        j += 1
    if reply is not None:
        if changes:
            S.flush_config()
        return reply
    if changes:
        return _flush_reply(S)
    return OK


def s_config(c, argv):
    S = _sentinel(c)
    sub = argv[2].lower()
    if sub == b"set" and len(argv) == 5:
        o, val = _s(argv[3]), _s(argv[4])
        lo = o.lower()
        drop = False
        bad = False
        if lo in ("resolve-hostnames", "announce-hostnames"):
            v = core.yesno(val)
            if v == -1:
                bad = True
            elif lo == "resolve-hostnames":
                S.resolve_hostnames = v
            else:
                S.announce_hostnames = v
        elif lo == "announce-ip":
            S.announce_ip = val
        elif lo == "announce-port":
            n = parse_ll(argv[4])
            if n is None or n < 0 or n > 65535:
                bad = True
            else:
                S.announce_port = n
        elif lo == "sentinel-user":
            S.sentinel_auth_user = val or None
            drop = True
        elif lo == "sentinel-pass":
            S.sentinel_auth_pass = val or None
            drop = True
        else:
            return _err("Invalid argument '%s' to SENTINEL CONFIG SET" % o)
        if bad:
            return _err("Invalid value '%s' to SENTINEL CONFIG SET '%s'" % (val, o))
        reply = _flush_reply(S)
        if drop:
            S.drop_connections()
        return reply
    if sub == b"get" and len(argv) == 4:
        from ..glob import match
        pat = argv[3]
        pairs = []
        for name, value in (
                ("resolve-hostnames", bulk(b"yes" if S.resolve_hostnames else b"no")),
                ("announce-hostnames", bulk(b"yes" if S.announce_hostnames else b"no")),
                ("announce-ip", bulk(_b(S.announce_ip or ""))),
                ("announce-port", _bulk_ll(S.announce_port)),
                ("sentinel-user", bulk(_b(S.sentinel_auth_user or ""))),
                ("sentinel-pass", bulk(_b(S.sentinel_auth_pass or "")))):
            if match(pat, name.encode(), True):
                pairs.append((bulk(name.encode()), value))
        return c.r.map(pairs)
    return _err("Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.")


def s_info_cache(c, argv):
    S = _sentinel(c)
    now = mstime()
    if len(argv) > 2:
        masters = {}
        for a in argv[2:]:
            ri = S.masters.get(_s(a))
            if ri is not None:
                masters[ri.name] = ri
    else:
        masters = S.masters
    out = [b"*%d\r\n" % (len(masters) * 2)]
    for ri in masters.values():
        out.append(bulk(_b(ri.name)))
        out.append(b"*%d\r\n" % (len(ri.slaves) + 1))
        out.append(b"*2\r\n" + integer(now - ri.info_refresh if ri.info_refresh else 0))
        out.append(bulk(ri.info) if ri.info is not None else c.r.null)
        for sri in ri.slaves.values():
            out.append(b"*2\r\n" + integer(now - sri.info_refresh if ri.info_refresh else 0))
            out.append(bulk(sri.info) if sri.info is not None else c.r.null)
    return b"".join(out)


def s_simulate_failure(c, argv):
    S = _sentinel(c)
    S.simfailure_flags = 0
    for a in argv[2:]:
        la = a.lower()
        if la == b"crash-after-election":
            S.simfailure_flags |= core.SIMFAILURE_CRASH_AFTER_ELECTION
            S.log(core.LL_WARNING, "Failure simulation: this Sentinel will crash after being "
                  "successfully elected as failover leader")
        elif la == b"crash-after-promotion":
            S.simfailure_flags |= core.SIMFAILURE_CRASH_AFTER_PROMOTION
            S.log(core.LL_WARNING, "Failure simulation: this Sentinel will crash after "
                  "promoting the selected replica to master")
        elif la == b"help":
            return array([b"crash-after-election", b"crash-after-promotion"])
        else:
            return _err("Unknown failure simulation specified")
    return OK


def s_debug(c, argv):
    S = _sentinel(c)
    if len(argv) == 2:
        names = dict((attr, name) for name, attr in DEBUG_PARAMS)
        return c.r.map([(bulk(_b(names[a].upper())), _bulk_ll(getattr(S, a)))
                        for a in DEBUG_INFO_ORDER])
    params = dict(DEBUG_PARAMS)
    j = 2
    while j < len(argv):
        moreargs = len(argv) - 1 - j
        option = _s(argv[j])
        attr = params.get(option.lower())
        if attr is None or moreargs <= 0:
            return _err("Unknown option or number of arguments for SENTINEL DEBUG '%s'"
                        % option)
        j += 1
        ll = parse_ll(argv[j])
        if ll is None or ll <= 0:
            return _err("Invalid argument '%s' for SENTINEL DEBUG '%s'" % (_s(argv[j]),
                                                                          option))
        setattr(S, attr, ll)
        j += 1
    return OK


SUBCOMMANDS = {
    "help": s_help, "masters": s_masters, "master": s_master, "replicas": s_replicas,
    "slaves": s_replicas, "sentinels": s_sentinels, "myid": s_myid,
    "is-master-down-by-addr": s_is_master_down_by_addr, "reset": s_reset,
    "get-master-addr-by-name": s_get_master_addr_by_name, "failover": s_failover,
    "pending-scripts": s_pending_scripts, "monitor": s_monitor, "flushconfig": s_flushconfig,
    "remove": s_remove, "ckquorum": s_ckquorum, "set": s_set, "config": s_config,
    "info-cache": s_info_cache, "simulate-failure": s_simulate_failure, "debug": s_debug,
}


# ---- INFO / ROLE / PUBLISH in sentinel mode ----------------------------------------------
SENTINEL_SECTIONS = ("server", "clients", "cpu", "stats", "sentinel")


def info_cmd(c, argv):
    """sentinelInfoCommand."""
    from ..commands import info as info_mod
    srv = c.server
    S = srv.sentinel
    if len(argv) == 1:
        names, all_ = set(SENTINEL_SECTIONS), False
    else:
        names = set()
        all_ = False
        for a in argv[1:]:
            a = _s(a).lower()
            if a == "default":
                names.update(SENTINEL_SECTIONS)
            elif a in ("all", "everything"):
                all_ = True
            else:
                names.add(a)
    if all_:
        names = set(SENTINEL_SECTIONS)
    names &= set(SENTINEL_SECTIONS)
    parts = []
    for name in info_mod.SECTIONS:
        if name not in names:
            continue
        pairs = info_mod.section_pairs(srv, name)
        if name == "server":
            pairs = [(k, "sentinel" if k == "redis_mode" else v) for k, v in pairs]
        title = info_mod._GENERATORS[name][0]
        parts.append("# %s\r\n" % title + "".join("%s:%s\r\n" % (k, v) for k, v in pairs))
    text = "\r\n".join(parts)
    if all_ or "sentinel" in names:
        if text:
            text += "\r\n"
        now = mstime()
        text += ("# Sentinel\r\nsentinel_masters:%d\r\nsentinel_tilt:%d\r\n"
                 "sentinel_tilt_since_seconds:%d\r\nsentinel_running_scripts:%d\r\n"
                 "sentinel_scripts_queue_length:%d\r\nsentinel_simulate_failure_flags:%d\r\n" % (
                     len(S.masters), S.tilt,
                     (now - S.tilt_start_time) // 1000 if S.tilt else -1,
                     S.running_scripts, len(S.scripts_queue), S.simfailure_flags))
        for i, ri in enumerate(S.masters.values()):
            status = "odown" if ri.flags & SRI_O_DOWN else (
                "sdown" if ri.flags & SRI_S_DOWN else "ok")
            text += "master%d:name=%s,status=%s,address=%s:%d,slaves=%d,sentinels=%d\r\n" % (
                i, ri.name, status, S.announce_addr(ri.addr), ri.addr.port, len(ri.slaves),
                len(ri.sentinels) + 1)
    return c.r.verbatim(_b(text))


def role_cmd(c, argv):
    S = _sentinel(c)
    return b"*2\r\n" + bulk(b"sentinel") + array([_b(n) for n in S.masters])


def publish_cmd(c, argv):
    if argv[1] != core.HELLO_CHANNEL:
        return _err("Only HELLO messages are accepted by Sentinel instances.")
    _sentinel(c).process_hello(_s(argv[2]))
    return integer(1)


def install_table():
    """Reduce the command table to the sentinel commands and add SENTINEL (the process is a
    Sentinel from now on; populateCommandTable skips what lacks CMD_SENTINEL)."""
    for name, cmd in list(table.COMMANDS.items()):
        if "sentinel" not in cmd.flags:
            del table.COMMANDS[name]
            continue
        if cmd.subcommands:
            for sname, sub in list(cmd.subcommands.items()):
                if "sentinel" not in sub.flags:
                    del cmd.subcommands[sname]
    table.DISPATCH.clear()
    for name, cmd in table.COMMANDS.items():
        table.DISPATCH[name] = table.DISPATCH[name.upper()] = cmd
    with open(_SPEC_PATH) as f:
        spec = json.load(f)
    table.register("sentinel", None, spec=spec["sentinel"])
    for full, e in spec.items():
        if "|" in full:
            sub = full.split("|", 1)[1]
            fn = SUBCOMMANDS[sub]
            table.register(full, fn, spec=e)
    for name, fn in ((b"info", info_cmd), (b"role", role_cmd), (b"publish", publish_cmd)):
        cmd = table.COMMANDS.get(name)
        if cmd is not None:
            cmd.handler = fn
