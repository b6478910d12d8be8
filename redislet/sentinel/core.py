"""Redis Sentinel (sentinel.c of Redis 7.0.15): the monitoring state, the links to masters,
replicas and other Sentinels, failure detection, leader election, the failover state
machine, TILT, events, scripts and the config rewrite of the sentinel.conf state.

Names follow sentinel.c (sentinelRedisInstance -> Instance, instanceLink -> Link...). Times
are wall-clock milliseconds (mstime), as in Redis (TILT watches that clock).
"""
import os
import random
import socket
import subprocess
import time

import hiredis

from ..glob import match as _glob_match
from .link import Conn

SRI_MASTER = 1 << 0
SRI_SLAVE = 1 << 1
SRI_SENTINEL = 1 << 2
SRI_S_DOWN = 1 << 3
SRI_O_DOWN = 1 << 4
SRI_MASTER_DOWN = 1 << 5
SRI_FAILOVER_IN_PROGRESS = 1 << 6
SRI_PROMOTED = 1 << 7
SRI_RECONF_SENT = 1 << 8
SRI_RECONF_INPROG = 1 << 9
SRI_RECONF_DONE = 1 << 10
SRI_FORCE_FAILOVER = 1 << 11
SRI_SCRIPT_KILL_SENT = 1 << 12
SRI_MASTER_REBOOT = 1 << 13

HELLO_CHANNEL = b"__sentinel__:hello"
DEFAULT_SLAVE_PRIORITY = 100
DEFAULT_PARALLEL_SYNCS = 1
MAX_PENDING_COMMANDS = 100
MAX_DESYNC = 1000
SCRIPT_MAX_QUEUE = 256
SCRIPT_MAX_RUNNING = 16
SCRIPT_MAX_RETRY = 10
SCRIPT_MAX_ARGS = 16

FO_NONE, FO_WAIT_START, FO_SELECT_SLAVE, FO_SEND_SLAVEOF_NOONE, FO_WAIT_PROMOTION, \
    FO_RECONF_SLAVES, FO_UPDATE_CONFIG = range(7)
FO_NAMES = ["none", "wait_start", "select_slave", "send_slaveof_noone", "wait_promotion",
            "reconf_slaves", "update_config"]

LINK_UP, LINK_DOWN = 0, 1
SIMFAILURE_CRASH_AFTER_ELECTION = 1
SIMFAILURE_CRASH_AFTER_PROMOTION = 2
LEADER, OBSERVER = 1, 2

LL_DEBUG, LL_VERBOSE, LL_NOTICE, LL_WARNING = 0, 1, 2, 3
_LEVEL_NAMES = ["debug", "verbose", "notice", "warning"]

PRE_MONITOR = ("announce-ip", "announce-port", "deny-scripts-reconfig", "sentinel-user",
               "sentinel-pass", "current-epoch", "myid", "resolve-hostnames",
               "announce-hostnames")


def mstime():
    return int(time.time() * 1000)


class AddrError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code      # ENOENT, EINVAL, EBUSY


def _atoi(s):
    """C atoi: leading whitespace, sign, digits; 0 when none."""
    if isinstance(s, bytes):
        s = s.decode("latin-1")
    s = s.lstrip(" \t\n\v\f\r")
    i = 0
    if i < len(s) and s[i] in "+-":
        i += 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    if j == i:
        return 0
    v = int(s[:j])
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def _strtoull(s):
    if isinstance(s, bytes):
        s = s.decode("latin-1")
    s = s.lstrip(" \t\n\v\f\r")
    neg = s[:1] == "-"
    if s[:1] in "+-":
        s = s[1:]
    j = 0
    while j < len(s) and s[j].isdigit():
        j += 1
    if j == 0:
        return 0
    v = min(int(s[:j]), (1 << 64) - 1)
    return (-v) % (1 << 64) if neg else v


def yesno(s):
    s = s.lower()
    if s == "yes":
        return 1
    if s == "no":
        return 0
    return -1


class Addr:
    __slots__ = ("hostname", "ip", "port")

    def __init__(self, hostname, ip, port):
        self.hostname, self.ip, self.port = hostname, ip, port

    def dup(self):
        return Addr(self.hostname, self.ip, self.port)


class Link:
    """instanceLink: the command and pub/sub connections and the ping/pong times."""

    def __init__(self):
        now = mstime()
        self.refcount = 1
        self.disconnected = True
        self.pending_commands = 0
        self.cc = None
        self.pc = None
        self.cc_conn_time = 0
        self.pc_conn_time = 0
        self.pc_last_activity = 0
        self.act_ping_time = now
        self.last_ping_time = 0
        self.last_avail_time = now
        self.last_pong_time = now
        self.last_reconn_time = 0

    def close_connection(self, conn):
        """instanceLinkCloseConnection."""
        if conn is None:
            return
        if self.cc is conn:
            self.cc = None
            self.pending_commands = 0
        if self.pc is conn:
            self.pc = None
        self.disconnected = True
        conn.close()

    def connection_error(self, conn):
        """instanceLinkConnectionError (the connection went away by itself)."""
        if self.pc is conn:
            self.pc = None
        elif self.cc is conn:
            self.cc = None
        else:
            return
        self.disconnected = True


class Instance:
    """sentinelRedisInstance."""

    def __init__(self, sentinel, name, flags, addr, quorum, master):
        now = mstime()
        self.flags = flags
        self.name = name
        self.runid = None
        self.config_epoch = 0
        self.addr = addr
        self.link = Link()
        self.last_pub_time = now
        self.last_hello_time = now
        self.last_master_down_reply_time = now
        self.s_down_since_time = 0
        self.o_down_since_time = 0
        self.down_after_period = master.down_after_period if master else \
            sentinel.default_down_after
        self.master_reboot_down_after_period = 0
        self.master_reboot_since_time = 0
        self.master_link_down_time = 0
        self.auth_pass = None
        self.auth_user = None
        self.slave_priority = DEFAULT_SLAVE_PRIORITY
        self.replica_announced = 1
        self.slave_reconf_sent_time = 0
        self.slave_master_host = None
        self.slave_master_port = 0
        self.slave_master_link_status = LINK_DOWN
        self.slave_repl_offset = 0
        self.sentinels = {}
        self.slaves = {}
        self.quorum = quorum
        self.parallel_syncs = DEFAULT_PARALLEL_SYNCS
        self.master = master
        self.info_refresh = 0
        self.renamed_commands = {}     # lower-case name -> (name as given, new name)
        self.leader = None
        self.leader_epoch = 0
        self.failover_epoch = 0
        self.failover_state = FO_NONE
        self.failover_state_change_time = 0
        self.failover_start_time = 0
        self.failover_timeout = sentinel.default_failover_timeout
        self.failover_delay_logged = 0
        self.promoted_slave = None
        self.notification_script = None
        self.client_reconfig_script = None
        self.info = None
        self.role_reported = flags & (SRI_MASTER | SRI_SLAVE)
        self.role_reported_time = now
        self.slave_conf_change_time = now

    def type_str(self):
        if self.flags & SRI_MASTER:
            return "master"
        if self.flags & SRI_SLAVE:
            return "slave"
        if self.flags & SRI_SENTINEL:
            return "sentinel"
        return "unknown"

    def map_command(self, name):
        """sentinelInstanceMapCommand: rename-command of the master."""
        ri = self.master if self.master is not None else self
        e = ri.renamed_commands.get(name.lower())
        return e[1] if e is not None else name


class ScriptJob:
    def __init__(self, argv):
        self.running = False
        self.retry_num = 0
        self.argv = argv
        self.start_time = 0
        self.pid = 0
        self.proc = None


class Sentinel:
    def __init__(self, srv):
        self.srv = srv
        self.loop = None
        self.myid = None
        self.current_epoch = 0
        self.masters = {}
        self.tilt = 0
        self.tilt_start_time = 0
        self.previous_time = mstime()
        self.running_scripts = 0
        self.scripts_queue = []
        self.announce_ip = None
        self.announce_port = 0
        self.simfailure_flags = 0
        self.deny_scripts_reconfig = 1
        self.sentinel_auth_pass = None
        self.sentinel_auth_user = None
        self.resolve_hostnames = 0
        self.announce_hostnames = 0
        # the tunables of SENTINEL DEBUG
        self.info_period = 10000
        self.ping_period = 1000
        self.ask_period = 1000
        self.publish_period = 2000
        self.default_down_after = 30000
        self.tilt_trigger = 2000
        self.tilt_period = 1000 * 30
        self.slave_reconf_timeout = 10000
        self.min_link_reconnect_period = 15000
        self.election_timeout = 10000
        self.script_max_runtime = 60000
        self.script_retry_delay = 30000
        self.default_failover_timeout = 60 * 3 * 1000
        self.timer_handle = None
        self.config_queue = [[], [], []]     # pre-monitor, monitor, post-monitor

    # ---- log / events ----------------------------------------------------------------
    def log(self, level, msg):
        self.srv.log(_LEVEL_NAMES[level], msg)

    def announce_addr(self, a):
        return a.hostname if self.announce_hostnames else a.ip

    def announce_addr_port(self, a):
        addr = self.announce_addr(a)
        return ("[%s]:%d" % (addr, a.port)) if ":" in addr else ("%s:%d" % (addr, a.port))

    def event(self, level, type_, ri, fmt="", *args, at=False):
        """sentinelEvent. at=True: the message starts with the instance identifier (%@)."""
        if at:
            master = None if ri.flags & SRI_MASTER else ri.master
            if master is not None:
                msg = "%s %s %s %d @ %s %s %d" % (
                    ri.type_str(), ri.name, self.announce_addr(ri.addr), ri.addr.port,
                    master.name, self.announce_addr(master.addr), master.addr.port)
            else:
                msg = "%s %s %s %d" % (ri.type_str(), ri.name, self.announce_addr(ri.addr),
                                       ri.addr.port)
        else:
            msg = ""
        if fmt:
            msg += (fmt % args) if args else fmt
        vlevel = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}.get(
            self.srv.config.values["loglevel"], 2)
        if level >= vlevel:
            self.log(level, "%s %s" % (type_, msg))
        if level != LL_DEBUG:
            from ..commands.pubsub import publish
            publish(self.srv, type_.encode(), msg.encode("utf-8", "surrogateescape"))
        if level == LL_WARNING and ri is not None:
            master = ri if ri.flags & SRI_MASTER else ri.master
            if master is not None and master.notification_script:
                self.schedule_script(master.notification_script, type_, msg)

    def generate_initial_monitor_events(self):
        for ri in list(self.masters.values()):
            self.event(LL_WARNING, "+monitor", ri, " quorum %d", ri.quorum, at=True)

    # ---- scripts ---------------------------------------------------------------------
    def schedule_script(self, path, *args):
        argv = [path] + list(args[:SCRIPT_MAX_ARGS - 1])
        self.scripts_queue.append(ScriptJob(argv))
        if len(self.scripts_queue) > SCRIPT_MAX_QUEUE:
            for sj in self.scripts_queue:
                if not sj.running:
                    self.scripts_queue.remove(sj)
                    break

    def run_pending_scripts(self):
        now = mstime()
        for sj in self.scripts_queue:
            if self.running_scripts >= SCRIPT_MAX_RUNNING:
                break
            if sj.running:
                continue
            if sj.start_time and sj.start_time > now:
                continue
            sj.running = True
            sj.start_time = mstime()
            sj.retry_num += 1
            try:
                sj.proc = subprocess.Popen(sj.argv, close_fds=True, stdin=subprocess.DEVNULL)
            except OSError:
                # execve failed in the child: _exit(2), "don't retry"
                sj.proc = _FailedProc(2)
            except Exception:
                self.event(LL_WARNING, "-script-error", None, "%s %d %d", sj.argv[0], 99, 0)
                sj.running = False
                sj.pid = 0
                continue
            self.running_scripts += 1
            sj.pid = sj.proc.pid
            self.event(LL_DEBUG, "+script-child", None, "%ld", sj.pid)

    def retry_delay(self, retry_num):
        delay = self.script_retry_delay
        while retry_num > 1:
            delay *= 2
            retry_num -= 1
        return delay

    def collect_terminated_scripts(self):
        for sj in list(self.scripts_queue):
            if not sj.running or sj.proc is None:
                continue
            rc = sj.proc.poll()
            if rc is None:
                continue
            bysignal = -rc if rc < 0 else 0
            exitcode = rc if rc >= 0 else 0
            self.event(LL_DEBUG, "-script-child", None, "%ld %d %d", sj.pid, exitcode, bysignal)
            if (bysignal or exitcode == 1) and sj.retry_num != SCRIPT_MAX_RETRY:
                sj.running = False
                sj.pid = 0
                sj.proc = None
                sj.start_time = mstime() + self.retry_delay(sj.retry_num)
            else:
                if bysignal or exitcode != 0:
                    self.event(LL_WARNING, "-script-error", None, "%s %d %d", sj.argv[0],
                               bysignal, exitcode)
                self.scripts_queue.remove(sj)
            self.running_scripts -= 1

    def kill_timedout_scripts(self):
        now = mstime()
        for sj in self.scripts_queue:
            if sj.running and now - sj.start_time > self.script_max_runtime:
                self.event(LL_WARNING, "-script-timeout", None, "%s %ld", sj.argv[0], sj.pid)
                try:
                    os.kill(sj.pid, 9)
                except OSError:
                    pass

    def call_client_reconf_script(self, master, role, state, from_, to):
        if master.client_reconfig_script is None:
            return
        self.schedule_script(master.client_reconfig_script, master.name,
                             "leader" if role == LEADER else "observer", state,
                             self.announce_addr(from_), str(from_.port),
                             self.announce_addr(to), str(to.port))

    # ---- addresses / instances -------------------------------------------------------
    def resolve(self, hostname):
        """anetResolve (ANET_IP_ONLY unless resolve-hostnames): the IP or None."""
        for fam in (socket.AF_INET, socket.AF_INET6):
            try:
                return socket.inet_ntop(fam, socket.inet_pton(fam, hostname))
            except (OSError, ValueError):
                pass
        if not self.resolve_hostnames:
            return None
        try:
            infos = socket.getaddrinfo(hostname, None, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None
        for fam in (socket.AF_INET, socket.AF_INET6):
            for info in infos:
                if info[0] == fam:
                    return info[4][0]
        return None

    def create_addr(self, hostname, port, accept_unresolved):
        if port < 0 or port > 65535:
            raise AddrError("EINVAL")
        ip = self.resolve(hostname)
        if ip is None:
            self.log(LL_WARNING, "Failed to resolve hostname '%s'" % hostname)
            if self.resolve_hostnames and accept_unresolved:
                ip = ""
            else:
                raise AddrError("ENOENT")
        return Addr(hostname, ip, port)

    @staticmethod
    def addr_equal(a, b):
        """sentinelAddrOrHostnameEqual."""
        return a.port == b.port and (a.ip == b.ip or a.hostname.lower() == b.hostname.lower())

    def addr_equals_hostname(self, a, hostname):
        ip = self.resolve(hostname)
        if ip is None:
            return (a.hostname if self.resolve_hostnames else a.ip).lower() == hostname.lower()
        return a.ip.lower() == ip.lower()

    def create_instance(self, name, flags, hostname, port, quorum, master):
        addr = self.create_addr(hostname, port, True)
        if flags & SRI_SLAVE:
            name = self.announce_addr_port(addr)
        if flags & SRI_MASTER:
            table = self.masters
        elif flags & SRI_SLAVE:
            table = master.slaves
        else:
            table = master.sentinels
        if name in table:
            raise AddrError("EBUSY")
        ri = Instance(self, name, flags, addr, quorum, master)
        table[name] = ri
        return ri

    @staticmethod
    def create_error(code, role):
        if code == "EBUSY":
            return {SRI_MASTER: "Duplicate master name.",
                    SRI_SLAVE: "Duplicate hostname and port for replica.",
                    SRI_SENTINEL: "Duplicate runid for sentinel."}[role]
        if code == "ENOENT":
            return "Can't resolve instance hostname."
        if code == "EINVAL":
            return "Invalid port number."
        return "Unknown Error for creating instances."

    def release_instance(self, ri):
        """releaseSentinelRedisInstance (after removal from its table)."""
        for s in list(ri.slaves.values()):
            self.release_instance(s)
        for s in list(ri.sentinels.values()):
            self.release_instance(s)
        ri.slaves = {}
        ri.sentinels = {}
        self.release_link(ri.link, ri)
        if ri.flags & SRI_SLAVE and ri.flags & SRI_PROMOTED and ri.master is not None:
            if ri.master.promoted_slave is ri:
                ri.master.promoted_slave = None
        ri.released = True

    def release_link(self, link, ri):
        link.refcount -= 1
        if link.refcount != 0:
            return link
        link.close_connection(link.cc)
        link.close_connection(link.pc)
        return None

    def lookup_slave(self, master, ip, port):
        try:
            addr = self.create_addr(ip, port, False)
        except AddrError:
            return None
        return master.slaves.get(self.announce_addr_port(addr))

    def remove_matching_sentinel(self, master, runid):
        if runid is None:
            return 0
        removed = 0
        for name, ri in list(master.sentinels.items()):
            if ri.runid and ri.runid == runid:
                del master.sentinels[name]
                self.release_instance(ri)
                removed += 1
        return removed

    def get_by_addr_and_runid(self, instances, addr, port, runid):
        ri_addr = None
        if addr is not None:
            try:
                ri_addr = self.create_addr(addr, port, True)
            except AddrError:
                return None
        for ri in instances.values():
            if runid and not ri.runid:
                continue
            if (runid is None or ri.runid == runid) and (
                    addr is None or self.addr_equal(ri.addr, ri_addr)):
                return ri
        return None

    def try_connection_sharing(self, ri):
        if ri.runid is None or ri.link.refcount > 1:
            return False
        for master in self.masters.values():
            if master is ri.master:
                continue
            match = self.get_by_addr_and_runid(master.sentinels, None, 0, ri.runid)
            if match is None or match is ri:
                continue
            self.release_link(ri.link, None)
            ri.link = match.link
            match.link.refcount += 1
            return True
        return False

    def drop_instance_connections(self, ri):
        ri.link.close_connection(ri.link.cc)
        ri.link.close_connection(ri.link.pc)
        for s in ri.slaves.values():
            s.link.close_connection(s.link.cc)
            s.link.close_connection(s.link.pc)

    def drop_connections(self):
        dropped = 0
        for ri in self.masters.values():
            for si in ri.sentinels.values():
                if not si.link.disconnected:
                    si.link.close_connection(si.link.pc)
                    si.link.close_connection(si.link.cc)
                    dropped += 1
        return dropped

    def update_sentinel_address_in_all_masters(self, ri):
        reconfigured = 0
        for master in self.masters.values():
            match = self.get_by_addr_and_runid(master.sentinels, None, 0, ri.runid)
            if match is None:
                continue
            if match.link.cc is not None:
                match.link.close_connection(match.link.cc)
            if match.link.pc is not None:
                match.link.close_connection(match.link.pc)
            if match is ri:
                continue
            match.addr = ri.addr.dup()
            reconfigured += 1
        if reconfigured:
            self.event(LL_NOTICE, "+sentinel-address-update", ri,
                       " %d additional matching instances", reconfigured, at=True)
        return reconfigured

    def reset_master(self, ri, no_sentinels=False, generate_event=False):
        for s in list(ri.slaves.values()):
            self.release_instance(s)
        ri.slaves = {}
        if not no_sentinels:
            for s in list(ri.sentinels.values()):
                self.release_instance(s)
            ri.sentinels = {}
        ri.link.close_connection(ri.link.cc)
        ri.link.close_connection(ri.link.pc)
        ri.flags &= SRI_MASTER
        ri.leader = None
        ri.failover_state = FO_NONE
        ri.failover_state_change_time = 0
        ri.failover_start_time = 0
        ri.promoted_slave = None
        ri.runid = None
        ri.slave_master_host = None
        now = mstime()
        ri.link.act_ping_time = now
        ri.link.last_ping_time = 0
        ri.link.last_avail_time = now
        ri.link.last_pong_time = now
        ri.role_reported_time = now
        ri.role_reported = SRI_MASTER
        if generate_event:
            self.event(LL_WARNING, "+reset-master", ri, at=True)

    def reset_masters_by_pattern(self, pattern):
        n = 0
        for ri in list(self.masters.values()):
            if ri.name and _glob_match(pattern.encode(), ri.name.encode(), False):
                self.reset_master(ri, generate_event=True)
                n += 1
        return n

    def reset_master_and_change_address(self, master, hostname, port):
        try:
            newaddr = self.create_addr(hostname, port, False)
        except AddrError:
            return False
        slaves = []
        for s in master.slaves.values():
            if self.addr_equal(s.addr, newaddr):
                continue
            slaves.append(s.addr.dup())
        if not self.addr_equal(newaddr, master.addr):
            slaves.append(master.addr.dup())
        self.reset_master(master, no_sentinels=True)
        master.addr = newaddr
        master.o_down_since_time = 0
        master.s_down_since_time = 0
        for a in slaves:
            try:
                slave = self.create_instance(None, SRI_SLAVE, a.hostname, a.port,
                                             master.quorum, master)
            except AddrError:
                continue
            self.event(LL_NOTICE, "+slave", slave, at=True)
        self.flush_config()
        return True

    @staticmethod
    def no_down_for(ri, ms):
        most_recent = max(ri.s_down_since_time, ri.o_down_since_time)
        return most_recent == 0 or mstime() - most_recent > ms

    @staticmethod
    def current_master_address(master):
        if (master.flags & SRI_FAILOVER_IN_PROGRESS and master.promoted_slave is not None
                and master.failover_state >= FO_RECONF_SLAVES):
            return master.promoted_slave.addr
        return master.addr

    @staticmethod
    def propagate_down_after_period(master):
        for d in (master.slaves, master.sentinels):
            for ri in d.values():
                ri.down_after_period = master.down_after_period

    def get_master(self, name):
        return self.masters.get(name)

    # ---- configuration -----------------------------------------------------------------
    def queue_config(self, argv, linenum, line):
        name = argv[0].lower()
        if name == "monitor":
            q = 1
        elif name in PRE_MONITOR:
            q = 0
        else:
            q = 2
        self.config_queue[q].append((argv, linenum, line))

    def load_config_queue(self):
        """loadSentinelConfigFromQueue: returns (linenum, line, error) or None."""
        for q in self.config_queue:
            for argv, linenum, line in q:
                err = self.handle_configuration(argv)
                if err:
                    return linenum, line, err
        self.config_queue = [[], [], []]
        return None

    def handle_configuration(self, argv):
        argc = len(argv)
        name = argv[0].lower()
        if name == "monitor" and argc == 5:
            quorum = _atoi(argv[4])
            if quorum <= 0:
                return "Quorum must be 1 or greater."
            try:
                self.create_instance(argv[1], SRI_MASTER, argv[2], _atoi(argv[3]), quorum, None)
            except AddrError as e:
                return self.create_error(e.code, SRI_MASTER)
        elif name in ("down-after-milliseconds", "failover-timeout", "parallel-syncs",
                      "notification-script", "client-reconfig-script", "auth-pass",
                      "auth-user", "config-epoch", "leader-epoch",
                      "master-reboot-down-after-period") and argc == 3:
            ri = self.get_master(argv[1])
            if ri is None:
                return "No such master with specified name."
            if name == "down-after-milliseconds":
                ri.down_after_period = _atoi(argv[2])
                if ri.down_after_period <= 0:
                    return "negative or zero time parameter."
                self.propagate_down_after_period(ri)
            elif name == "failover-timeout":
                ri.failover_timeout = _atoi(argv[2])
                if ri.failover_timeout <= 0:
                    return "negative or zero time parameter."
            elif name == "parallel-syncs":
                ri.parallel_syncs = _atoi(argv[2])
            elif name == "notification-script":
                if not os.access(argv[2], os.X_OK):
                    return "Notification script seems non existing or non executable."
                ri.notification_script = argv[2]
            elif name == "client-reconfig-script":
                if not os.access(argv[2], os.X_OK):
                    return ("Client reconfiguration script seems non existing or "
                            "non executable.")
                ri.client_reconfig_script = argv[2]
            elif name == "auth-pass":
                ri.auth_pass = argv[2]
            elif name == "auth-user":
                ri.auth_user = argv[2]
            elif name == "config-epoch":
                ri.config_epoch = _strtoull(argv[2])
                if ri.config_epoch > self.current_epoch:
                    self.current_epoch = ri.config_epoch
            elif name == "leader-epoch":
                ri.leader_epoch = _strtoull(argv[2])
            else:
                ri.master_reboot_down_after_period = _atoi(argv[2])
                if ri.master_reboot_down_after_period < 0:
                    return "negative time parameter."
        elif name == "current-epoch" and argc == 2:
            e = _strtoull(argv[1])
            if e > self.current_epoch:
                self.current_epoch = e
        elif name == "myid" and argc == 2:
            if len(argv[1]) != 40:
                return "Malformed Sentinel id in myid option."
            self.myid = argv[1]
        elif name in ("known-slave", "known-replica") and argc == 4:
            ri = self.get_master(argv[1])
            if ri is None:
                return "No such master with specified name."
            try:
                self.create_instance(None, SRI_SLAVE, argv[2], _atoi(argv[3]), ri.quorum, ri)
            except AddrError as e:
                return self.create_error(e.code, SRI_SLAVE)
        elif name == "known-sentinel" and argc in (4, 5):
            if argc == 5:
                ri = self.get_master(argv[1])
                if ri is None:
                    return "No such master with specified name."
                try:
                    si = self.create_instance(argv[4], SRI_SENTINEL, argv[2], _atoi(argv[3]),
                                              ri.quorum, ri)
                except AddrError as e:
                    return self.create_error(e.code, SRI_SENTINEL)
                si.runid = argv[4]
                self.try_connection_sharing(si)
        elif name == "rename-command" and argc == 4:
            ri = self.get_master(argv[1])
            if ri is None:
                return "No such master with specified name."
            if argv[2].lower() in ri.renamed_commands:
                return "Same command renamed multiple times with rename-command."
            ri.renamed_commands[argv[2].lower()] = (argv[2], argv[3])
        elif name == "announce-ip" and argc == 2:
            if argv[1]:
                self.announce_ip = argv[1]
        elif name == "announce-port" and argc == 2:
            self.announce_port = _atoi(argv[1])
        elif name == "deny-scripts-reconfig" and argc == 2:
            self.deny_scripts_reconfig = yesno(argv[1])
            if self.deny_scripts_reconfig == -1:
                return "Please specify yes or no for the deny-scripts-reconfig options."
        elif name == "sentinel-user" and argc == 2:
            if argv[1]:
                self.sentinel_auth_user = argv[1]
        elif name == "sentinel-pass" and argc == 2:
            if argv[1]:
                self.sentinel_auth_pass = argv[1]
        elif name == "resolve-hostnames" and argc == 2:
            self.resolve_hostnames = yesno(argv[1])
            if self.resolve_hostnames == -1:
                return "Please specify yes or no for the resolve-hostnames option."
        elif name == "announce-hostnames" and argc == 2:
            self.announce_hostnames = yesno(argv[1])
            if self.announce_hostnames == -1:
                return "Please specify yes or no for the announce-hostnames option."
        else:
            return "Unrecognized sentinel configuration statement."
        return None

    def rewrite_config(self, st):
        """rewriteConfigSentinelOption: st is the config rewrite state (config.py)."""
        def line(option, text, force=True):
            st.rewrite_line(option, text.encode("utf-8", "surrogateescape"), force)

        line("sentinel myid", "sentinel myid %s" % self.myid)
        line("sentinel deny-scripts-reconfig", "sentinel deny-scripts-reconfig %s" % (
            "yes" if self.deny_scripts_reconfig else "no"), self.deny_scripts_reconfig != 1)
        line("sentinel resolve-hostnames", "sentinel resolve-hostnames %s" % (
            "yes" if self.resolve_hostnames else "no"), self.resolve_hostnames != 0)
        line("sentinel announce-hostnames", "sentinel announce-hostnames %s" % (
            "yes" if self.announce_hostnames else "no"), self.announce_hostnames != 0)
        for master in self.masters.values():
            maddr = self.current_master_address(master)
            n = master.name
            line("sentinel monitor", "sentinel monitor %s %s %d %d" % (
                n, self.announce_addr(maddr), maddr.port, master.quorum))
            if master.down_after_period != self.default_down_after:
                line("sentinel down-after-milliseconds", "sentinel down-after-milliseconds "
                     "%s %d" % (n, master.down_after_period))
            if master.failover_timeout != self.default_failover_timeout:
                line("sentinel failover-timeout", "sentinel failover-timeout %s %d" % (
                    n, master.failover_timeout))
            if master.parallel_syncs != DEFAULT_PARALLEL_SYNCS:
                line("sentinel parallel-syncs", "sentinel parallel-syncs %s %d" % (
                    n, master.parallel_syncs))
            if master.notification_script:
                line("sentinel notification-script", "sentinel notification-script %s %s" % (
                    n, master.notification_script))
            if master.client_reconfig_script:
                line("sentinel client-reconfig-script", "sentinel client-reconfig-script "
                     "%s %s" % (n, master.client_reconfig_script))
            if master.auth_pass:
                line("sentinel auth-pass", "sentinel auth-pass %s %s" % (n, master.auth_pass))
            if master.auth_user:
                line("sentinel auth-user", "sentinel auth-user %s %s" % (n, master.auth_user))
            if master.master_reboot_down_after_period != 0:
                line("sentinel master-reboot-down-after-period",
                     "sentinel master-reboot-down-after-period %s %d" % (
                         n, master.master_reboot_down_after_period))
            line("sentinel config-epoch", "sentinel config-epoch %s %d" % (
                n, master.config_epoch))
            line("sentinel leader-epoch", "sentinel leader-epoch %s %d" % (
                n, master.leader_epoch))
            for ri in master.slaves.values():
                saddr = ri.addr
                if self.addr_equal(saddr, maddr):
                    saddr = master.addr
                line("sentinel known-replica", "sentinel known-replica %s %s %d" % (
                    n, self.announce_addr(saddr), saddr.port))
            for ri in master.sentinels.values():
                if ri.runid is None:
                    continue
                line("sentinel known-sentinel", "sentinel known-sentinel %s %s %d %s" % (
                    n, self.announce_addr(ri.addr), ri.addr.port, ri.runid))
            for old, new in master.renamed_commands.values():
                line("sentinel rename-command", "sentinel rename-command %s %s %s" % (
                    n, old, new))
        line("sentinel current-epoch", "sentinel current-epoch %d" % self.current_epoch)
        if self.announce_ip:
            from ..util import repr_bytes
            st.rewrite_line("sentinel announce-ip", b"sentinel announce-ip " + repr_bytes(
                self.announce_ip.encode("utf-8", "surrogateescape")), True)
        else:
            st.mark("sentinel announce-ip")
        if self.announce_port:
            line("sentinel announce-port", "sentinel announce-port %d" % self.announce_port)
        else:
            st.mark("sentinel announce-port")
        if self.sentinel_auth_user:
            line("sentinel sentinel-user", "sentinel sentinel-user %s" % self.sentinel_auth_user)
        else:
            st.mark("sentinel sentinel-user")
        if self.sentinel_auth_pass:
            line("sentinel sentinel-pass", "sentinel sentinel-pass %s" % self.sentinel_auth_pass)
        else:
            st.mark("sentinel sentinel-pass")
        for opt in ("monitor", "down-after-milliseconds", "failover-timeout", "parallel-syncs",
                    "notification-script", "client-reconfig-script", "auth-pass", "auth-user",
                    "config-epoch", "leader-epoch", "known-replica", "known-sentinel",
                    "rename-command", "master-reboot-down-after-period"):
            st.mark("sentinel " + opt)

    def flush_config(self):
        """sentinelFlushConfig: CONFIG REWRITE of the sentinel.conf, then fsync."""
        cfg = self.srv.config
        try:
            cfg.rewrite(cfg.config_file)
            fd = os.open(cfg.config_file, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except Exception as e:
            self.log(LL_WARNING, "WARNING: Sentinel was not able to save the new configuration "
                     "on disk!!!: %s" % (getattr(e, "strerror", None) or e))
            return False
        self.log(LL_NOTICE, "Sentinel new configuration saved on disk")
        return True

    # ---- links -----------------------------------------------------------------------
    def _send(self, ri, conn, callback, *args, persistent=False):
        """redisAsyncCommand on conn; counts a pending command of ri's link."""
        link = ri.link
        if conn is None or conn.closed:
            return False

        def cb(reply, _link=link, _ri=ri):
            if _link.cc is not conn and _link.pc is not conn:
                return          # the link dropped this connection (c->data == NULL)
            if not persistent:
                _link.pending_commands -= 1
            if getattr(_ri, "released", False):
                return          # sentinelDiscardReplyCallback for a released instance
            if callback is not None:
                callback(_ri, reply)
        if not conn.command(cb, *args, persistent=persistent):
            return False
        if not persistent:
            link.pending_commands += 1
        return True

    def send_auth_if_needed(self, ri, conn):
        auth_pass = auth_user = None
        if ri.flags & SRI_MASTER:
            auth_pass, auth_user = ri.auth_pass, ri.auth_user
        elif ri.flags & SRI_SLAVE:
            auth_pass, auth_user = ri.master.auth_pass, ri.master.auth_user
        elif ri.flags & SRI_SENTINEL:
            if self.sentinel_auth_pass:
                auth_pass, auth_user = self.sentinel_auth_pass, self.sentinel_auth_user
            else:
                auth_pass = self.srv.config.values.get("requirepass") or None
        if auth_pass and auth_user is None:
            self._send(ri, conn, None, ri.map_command("AUTH"), auth_pass)
        elif auth_pass and auth_user:
            self._send(ri, conn, None, ri.map_command("AUTH"), auth_user, auth_pass)

    def set_client_name(self, ri, conn, type_):
        self._send(ri, conn, None, ri.map_command("CLIENT"), "SETNAME",
                   "sentinel-%s-%s" % (self.myid[:8], type_))

    def _on_conn_close(self, link):
        def cb(conn):
            link.connection_error(conn)
        return cb

    def reconnect_instance(self, ri):
        link = ri.link
        if not link.disconnected:
            return
        if ri.addr.port == 0:
            return
        now = mstime()
        if now - link.last_reconn_time < self.ping_period:
            return
        link.last_reconn_time = now
        if link.cc is None:
            if self.resolve_hostnames:
                try:
                    ri.addr = self.create_addr(ri.addr.hostname, ri.addr.port, False)
                except AddrError:
                    pass
            if not ri.addr.ip:
                self.event(LL_DEBUG, "-cmd-link-reconnection", ri,
                           " #Failed to establish connection", at=True)
            else:
                link.cc = Conn(self.loop, ri.addr.ip, ri.addr.port, self._on_conn_close(link),
                               self.srv.config.values["bind-source-addr"])
                link.pending_commands = 0
                link.cc_conn_time = mstime()
                self.send_auth_if_needed(ri, link.cc)
                self.set_client_name(ri, link.cc, "cmd")
                self.send_ping(ri)
        if ri.flags & (SRI_MASTER | SRI_SLAVE) and link.pc is None and ri.addr.ip:
            link.pc = Conn(self.loop, ri.addr.ip, ri.addr.port, self._on_conn_close(link),
                           self.srv.config.values["bind-source-addr"])
            link.pc_conn_time = mstime()
            self.send_auth_if_needed(ri, link.pc)
            self.set_client_name(ri, link.pc, "pubsub")
            self._send(ri, link.pc, self.receive_hello_messages,
                       ri.map_command("SUBSCRIBE"), HELLO_CHANNEL, persistent=True)
        if link.cc is not None and (ri.flags & SRI_SENTINEL or link.pc is not None):
            link.disconnected = False

    # ---- monitoring --------------------------------------------------------------------
    def master_looks_sane(self, master):
        return (master.flags & SRI_MASTER and master.role_reported == SRI_MASTER
                and not master.flags & (SRI_S_DOWN | SRI_O_DOWN)
                and mstime() - master.info_refresh < self.info_period * 2)

    def refresh_instance_info(self, ri, info):
        ri.info = info
        ri.master_link_down_time = 0
        role = 0
        text = info.decode("utf-8", "surrogateescape") if isinstance(info, bytes) else info
        for l in text.split("\r\n"):
            if len(l) >= 47 and l.startswith("run_id:"):
                rid = l[7:47]
                if ri.runid is None:
                    ri.runid = rid
                elif ri.runid != rid:
                    self.event(LL_NOTICE, "+reboot", ri, at=True)
                    if ri.flags & SRI_MASTER and ri.master_reboot_down_after_period != 0:
                        ri.flags |= SRI_MASTER_REBOOT
                        ri.master_reboot_since_time = mstime()
                    ri.runid = rid
            if (ri.flags & SRI_MASTER and len(l) >= 7 and l.startswith("slave")
                    and l[5].isdigit()):
                if "ip=" not in l:
                    rest = l.split(":", 1)
                    if len(rest) < 2:
                        continue
                    parts = rest[1].split(",")
                    if len(parts) < 3:
                        continue
                    ip, port = parts[0], parts[1]
                else:
                    i = l.find("ip=")
                    p = l.find("port=")
                    if p < 0:
                        continue
                    ip = l[i + 3:].split(",", 1)[0]
                    port = l[p + 5:].split(",", 1)[0]
                if self.lookup_slave(ri, ip, _atoi(port)) is None:
                    try:
                        slave = self.create_instance(None, SRI_SLAVE, ip, _atoi(port),
                                                     ri.quorum, ri)
                    except AddrError:
                        slave = None
                    if slave is not None:
                        self.event(LL_NOTICE, "+slave", slave, at=True)
                        self.flush_config()
            if len(l) >= 32 and l.startswith("master_link_down_since_seconds"):
                ri.master_link_down_time = _atoi(l[31:]) * 1000
            if len(l) >= 11 and l.startswith("role:master"):
                role = SRI_MASTER
            elif len(l) >= 10 and l.startswith("role:slave"):
                role = SRI_SLAVE
            if role == SRI_SLAVE:
                if len(l) >= 12 and l.startswith("master_host:"):
                    h = l[12:]
                    if ri.slave_master_host is None or h.lower() != ri.slave_master_host.lower():
                        ri.slave_master_host = h
                        ri.slave_conf_change_time = mstime()
                if len(l) >= 12 and l.startswith("master_port:"):
                    p = _atoi(l[12:])
                    if ri.slave_master_port != p:
                        ri.slave_master_port = p
                        ri.slave_conf_change_time = mstime()
                if len(l) >= 19 and l.startswith("master_link_status:"):
                    ri.slave_master_link_status = LINK_UP if l[19:].lower() == "up" \
                        else LINK_DOWN
                if len(l) >= 15 and l.startswith("slave_priority:"):
                    ri.slave_priority = _atoi(l[15:])
                if len(l) >= 18 and l.startswith("slave_repl_offset:"):
                    ri.slave_repl_offset = _strtoull(l[18:])
                if len(l) >= 18 and l.startswith("replica_announced:"):
                    ri.replica_announced = _atoi(l[18:])
        ri.info_refresh = mstime()

        if role != ri.role_reported:
            ri.role_reported_time = mstime()
            ri.role_reported = role
            if role == SRI_SLAVE:
                ri.slave_conf_change_time = mstime()
            self.event(LL_VERBOSE, "+role-change" if (ri.flags & (SRI_MASTER | SRI_SLAVE)) == role
                       else "-role-change", ri, " new reported role is %s",
                       "master" if role == SRI_MASTER else "slave", at=True)
        if self.tilt:
            return
        if ri.flags & SRI_SLAVE and role == SRI_MASTER:
            m = ri.master
            if (ri.flags & SRI_PROMOTED and m.flags & SRI_FAILOVER_IN_PROGRESS
                    and m.failover_state == FO_WAIT_PROMOTION):
                m.config_epoch = m.failover_epoch
                m.failover_state = FO_RECONF_SLAVES
                m.failover_state_change_time = mstime()
                self.flush_config()
                self.event(LL_WARNING, "+promoted-slave", ri, at=True)
                if self.simfailure_flags & SIMFAILURE_CRASH_AFTER_PROMOTION:
                    self.sim_failure_crash()
                self.event(LL_WARNING, "+failover-state-reconf-slaves", m, at=True)
                self.call_client_reconf_script(m, LEADER, "start", m.addr, ri.addr)
                self.force_hello_update_for_master(m)
            else:
                wait_time = self.publish_period * 4
                if (not ri.flags & SRI_PROMOTED and self.master_looks_sane(m)
                        and self.no_down_for(ri, wait_time)
                        and mstime() - ri.role_reported_time > wait_time):
                    if self.send_slaveof(ri, m.addr):
                        self.event(LL_NOTICE, "+convert-to-slave", ri, at=True)
        if (ri.flags & SRI_SLAVE and role == SRI_SLAVE and (
                ri.slave_master_port != ri.master.addr.port
                or not self.addr_equals_hostname(ri.master.addr, ri.slave_master_host or ""))):
            wait_time = ri.master.failover_timeout
            if (self.master_looks_sane(ri.master) and self.no_down_for(ri, wait_time)
                    and mstime() - ri.slave_conf_change_time > wait_time):
                if self.send_slaveof(ri, ri.master.addr):
                    self.event(LL_NOTICE, "+fix-slave-config", ri, at=True)
        if (ri.flags & SRI_SLAVE and role == SRI_SLAVE
                and ri.flags & (SRI_RECONF_SENT | SRI_RECONF_INPROG)):
            ps = ri.master.promoted_slave
            if (ri.flags & SRI_RECONF_SENT and ri.slave_master_host and ps is not None
                    and self.addr_equals_hostname(ps.addr, ri.slave_master_host)
                    and ri.slave_master_port == ps.addr.port):
                ri.flags &= ~SRI_RECONF_SENT
                ri.flags |= SRI_RECONF_INPROG
                self.event(LL_NOTICE, "+slave-reconf-inprog", ri, at=True)
            if ri.flags & SRI_RECONF_INPROG and ri.slave_master_link_status == LINK_UP:
                ri.flags &= ~SRI_RECONF_INPROG
                ri.flags |= SRI_RECONF_DONE
                self.event(LL_NOTICE, "+slave-reconf-done", ri, at=True)

    def info_reply(self, ri, reply):
        if isinstance(reply, bytes):
            self.refresh_instance_info(ri, reply)

    def ping_reply(self, ri, reply):
        link = ri.link
        if isinstance(reply, (bytes, hiredis.ReplyError)):
            s = reply if isinstance(reply, bytes) else str(reply).encode()
            if s.startswith((b"PONG", b"LOADING", b"MASTERDOWN")):
                link.last_avail_time = mstime()
                link.act_ping_time = 0
                if ri.flags & SRI_MASTER_REBOOT and s.startswith(b"PONG"):
                    ri.flags &= ~SRI_MASTER_REBOOT
            elif s.startswith(b"BUSY") and ri.flags & SRI_S_DOWN and \
                    not ri.flags & SRI_SCRIPT_KILL_SENT:
                self._send(ri, link.cc, None, ri.map_command("SCRIPT"), "KILL")
                ri.flags |= SRI_SCRIPT_KILL_SENT
        link.last_pong_time = mstime()

    def publish_reply(self, ri, reply):
        if not isinstance(reply, hiredis.ReplyError):
            ri.last_pub_time = mstime()

    def process_hello(self, hello):
        """sentinelProcessHelloMessage."""
        token = hello.split(",")
        if len(token) != 8:
            return
        master = self.get_master(token[4])
        if master is None:
            return
        port = _atoi(token[1])
        master_port = _atoi(token[6])
        si = self.get_by_addr_and_runid(master.sentinels, token[0], port, token[2])
        current_epoch = _strtoull(token[3])
        master_config_epoch = _strtoull(token[7])
        if si is None:
            removed = self.remove_matching_sentinel(master, token[2])
            if removed:
                self.event(LL_NOTICE, "+sentinel-address-switch", master,
                           " ip %s port %d for %s", token[0], port, token[2], at=True)
            else:
                other = self.get_by_addr_and_runid(master.sentinels, token[0], port, None)
                if other is not None:
                    self.event(LL_NOTICE, "+sentinel-invalid-addr", other, at=True)
                    obsolete = other.runid
                    for m in list(self.masters.values()):
                        self.remove_matching_sentinel(m, obsolete)
            try:
                si = self.create_instance(token[2], SRI_SENTINEL, token[0], port,
                                          master.quorum, master)
            except AddrError:
                si = None
            if si is not None:
                if not removed:
                    self.event(LL_NOTICE, "+sentinel", si, at=True)
                si.runid = token[2]
                self.try_connection_sharing(si)
                if removed:
                    self.update_sentinel_address_in_all_masters(si)
                self.flush_config()
        if current_epoch > self.current_epoch:
            self.current_epoch = current_epoch
            self.flush_config()
            self.event(LL_WARNING, "+new-epoch", master, "%d", self.current_epoch)
        if si is not None and master.config_epoch < master_config_epoch:
            master.config_epoch = master_config_epoch
            if master_port != master.addr.port or not self.addr_equals_hostname(
                    master.addr, token[5]):
                self.event(LL_WARNING, "+config-update-from", si, at=True)
                self.event(LL_WARNING, "+switch-master", master, "%s %s %d %s %d",
                           master.name, self.announce_addr(master.addr), master.addr.port,
                           token[5], master_port)
                old_addr = master.addr.dup()
                self.reset_master_and_change_address(master, token[5], master_port)
                self.call_client_reconf_script(master, OBSERVER, "start", old_addr, master.addr)
        if si is not None:
            si.last_hello_time = mstime()

    def receive_hello_messages(self, ri, reply):
        ri.link.pc_last_activity = mstime()
        if not (isinstance(reply, list) and len(reply) == 3
                and all(isinstance(x, bytes) for x in reply) and reply[0] == b"message"):
            return
        text = reply[2].decode("utf-8", "surrogateescape")
        if self.myid in text:
            return
        self.process_hello(text)

    def send_hello(self, ri):
        master = ri if ri.flags & SRI_MASTER else ri.master
        maddr = self.current_master_address(master)
        if ri.link.disconnected:
            return False
        if self.announce_ip:
            announce_ip = self.announce_ip
        else:
            sn = ri.link.cc.sockname if ri.link.cc is not None else None
            if not sn:
                return False
            announce_ip = sn[0]
        if self.announce_port:
            announce_port = self.announce_port
        else:
            announce_port = self.srv.port
        payload = "%s,%d,%s,%d,%s,%s,%d,%d" % (
            announce_ip, announce_port, self.myid, self.current_epoch, master.name,
            self.announce_addr(maddr), maddr.port, master.config_epoch)
        return self._send(ri, ri.link.cc, self.publish_reply, ri.map_command("PUBLISH"),
                          HELLO_CHANNEL, payload.encode("utf-8", "surrogateescape"))

    def _force_hello_dict(self, instances):
        for ri in instances.values():
            if ri.last_pub_time >= self.publish_period + 1:
                ri.last_pub_time -= self.publish_period + 1

    def force_hello_update_for_master(self, master):
        if not master.flags & SRI_MASTER:
            return False
        if master.last_pub_time >= self.publish_period + 1:
            master.last_pub_time -= self.publish_period + 1
        self._force_hello_dict(master.sentinels)
        self._force_hello_dict(master.slaves)
        return True

    def send_ping(self, ri):
        ok = self._send(ri, ri.link.cc, self.ping_reply, ri.map_command("PING"))
        if ok:
            ri.link.last_ping_time = mstime()
            if ri.link.act_ping_time == 0:
                ri.link.act_ping_time = ri.link.last_ping_time
        return ok

    def send_periodic_commands(self, ri):
        now = mstime()
        if ri.link.disconnected:
            return
        if ri.link.pending_commands >= MAX_PENDING_COMMANDS * ri.link.refcount:
            return
        if ri.flags & SRI_SLAVE and (ri.master.flags & (SRI_O_DOWN | SRI_FAILOVER_IN_PROGRESS)
                                     or ri.master_link_down_time != 0):
            info_period = 1000
        else:
            info_period = self.info_period
        ping_period = min(ri.down_after_period, self.ping_period)
        if not ri.flags & SRI_SENTINEL and (ri.info_refresh == 0
                                            or now - ri.info_refresh > info_period):
            self._send(ri, ri.link.cc, self.info_reply, ri.map_command("INFO"))
        if now - ri.link.last_pong_time > ping_period and \
                now - ri.link.last_ping_time > ping_period // 2:
            self.send_ping(ri)
        if now - ri.last_pub_time > self.publish_period:
            self.send_hello(ri)

    # ---- down conditions -------------------------------------------------------------
    def check_subjectively_down(self, ri):
        link = ri.link
        now = mstime()
        elapsed = 0
        if link.act_ping_time:
            elapsed = now - link.act_ping_time
        elif link.disconnected:
            elapsed = now - link.last_avail_time
        if (link.cc is not None and now - link.cc_conn_time > self.min_link_reconnect_period
                and link.act_ping_time != 0
                and now - link.act_ping_time > ri.down_after_period // 2
                and now - link.last_pong_time > ri.down_after_period // 2):
            link.close_connection(link.cc)
        if (link.pc is not None and now - link.pc_conn_time > self.min_link_reconnect_period
                and now - link.pc_last_activity > self.publish_period * 3):
            link.close_connection(link.pc)
        if (elapsed > ri.down_after_period
                or (ri.flags & SRI_MASTER and ri.role_reported == SRI_SLAVE
                    and now - ri.role_reported_time > ri.down_after_period
                    + self.info_period * 2)
                or (ri.flags & SRI_MASTER_REBOOT
                    and now - ri.master_reboot_since_time
                    > ri.master_reboot_down_after_period)):
            if not ri.flags & SRI_S_DOWN:
                self.event(LL_WARNING, "+sdown", ri, at=True)
                ri.s_down_since_time = mstime()
                ri.flags |= SRI_S_DOWN
        elif ri.flags & SRI_S_DOWN:
            self.event(LL_WARNING, "-sdown", ri, at=True)
            ri.flags &= ~(SRI_S_DOWN | SRI_SCRIPT_KILL_SENT)

    def check_objectively_down(self, master):
        quorum = odown = 0
        if master.flags & SRI_S_DOWN:
            quorum = 1
            for ri in master.sentinels.values():
                if ri.flags & SRI_MASTER_DOWN:
                    quorum += 1
            if quorum >= master.quorum:
                odown = 1
        if odown:
            if not master.flags & SRI_O_DOWN:
                self.event(LL_WARNING, "+odown", master, " #quorum %d/%d", quorum,
                           master.quorum, at=True)
                master.flags |= SRI_O_DOWN
                master.o_down_since_time = mstime()
        elif master.flags & SRI_O_DOWN:
            self.event(LL_WARNING, "-odown", master, at=True)
            master.flags &= ~SRI_O_DOWN

    def is_master_down_reply(self, ri, r):
        if (isinstance(r, list) and len(r) == 3 and isinstance(r[0], int)
                and isinstance(r[1], bytes) and isinstance(r[2], int)):
            ri.last_master_down_reply_time = mstime()
            if r[0] == 1:
                ri.flags |= SRI_MASTER_DOWN
            else:
                ri.flags &= ~SRI_MASTER_DOWN
            leader = r[1].decode("utf-8", "surrogateescape")
            if leader != "*":
                if ri.leader_epoch != r[2]:
                    self.log(LL_WARNING, "%s voted for %s %d" % (ri.name, leader, r[2]))
                ri.leader = leader
                ri.leader_epoch = r[2]

    def ask_master_state_to_other_sentinels(self, master, forced):
        for ri in master.sentinels.values():
            elapsed = mstime() - ri.last_master_down_reply_time
            if elapsed > self.ask_period * 5:
                ri.flags &= ~SRI_MASTER_DOWN
                ri.leader = None
            if not master.flags & SRI_S_DOWN:
                continue
            if ri.link.disconnected:
                continue
            if not forced and mstime() - ri.last_master_down_reply_time < self.ask_period:
                continue
            self._send(ri, ri.link.cc, self.is_master_down_reply,
                       ri.map_command("SENTINEL"), "is-master-down-by-addr",
                       self.announce_addr(master.addr), str(master.addr.port),
                       str(self.current_epoch),
                       self.myid if master.failover_state > FO_NONE else "*")

    # ---- failover ----------------------------------------------------------------------
    def sim_failure_crash(self):
        self.log(LL_WARNING, "Sentinel CRASH because of SENTINEL simulate-failure")
        os._exit(99)

    def vote_leader(self, master, req_epoch, req_runid):
        if req_epoch > self.current_epoch:
            self.current_epoch = req_epoch
            self.flush_config()
            self.event(LL_WARNING, "+new-epoch", master, "%d", self.current_epoch)
        if master.leader_epoch < req_epoch and self.current_epoch <= req_epoch:
            master.leader = req_runid
            master.leader_epoch = self.current_epoch
            self.flush_config()
            self.event(LL_WARNING, "+vote-for-leader", master, "%s %d", master.leader,
                       master.leader_epoch)
            if master.leader.lower() != self.myid.lower():
                master.failover_start_time = mstime() + random.randrange(MAX_DESYNC)
        return master.leader, master.leader_epoch

    def get_leader(self, master, epoch):
        counters = {}
        voters = len(master.sentinels) + 1
        for ri in master.sentinels.values():
            if ri.leader is not None and ri.leader_epoch == self.current_epoch:
                counters[ri.leader] = counters.get(ri.leader, 0) + 1
        winner = None
        max_votes = 0
        for runid, votes in counters.items():
            if votes > max_votes:
                max_votes = votes
                winner = runid
        myvote, leader_epoch = self.vote_leader(master, epoch,
                                                winner if winner else self.myid)
        if myvote and leader_epoch == epoch:
            votes = counters[myvote] = counters.get(myvote, 0) + 1
            if votes > max_votes:
                max_votes = votes
                winner = myvote
        if winner and (max_votes < voters // 2 + 1 or max_votes < master.quorum):
            winner = None
        return winner

    def send_slaveof(self, ri, addr):
        if addr is None:
            host, port = "NO", "ONE"
        else:
            host, port = self.announce_addr(addr), str(addr.port)
        cc = ri.link.cc
        if cc is None or cc.closed:
            return False
        self._send(ri, cc, None, ri.map_command("MULTI"))
        self._send(ri, cc, None, ri.map_command("SLAVEOF"), host, port)
        self._send(ri, cc, None, ri.map_command("CONFIG"), "REWRITE")
        for t in ("normal", "pubsub"):
            self._send(ri, cc, None, ri.map_command("CLIENT"), "KILL", "TYPE", t)
        self._send(ri, cc, None, ri.map_command("EXEC"))
        return True

    def start_failover(self, master):
        master.failover_state = FO_WAIT_START
        master.flags |= SRI_FAILOVER_IN_PROGRESS
        self.current_epoch += 1
        master.failover_epoch = self.current_epoch
        self.event(LL_WARNING, "+new-epoch", master, "%d", self.current_epoch)
        self.event(LL_WARNING, "+try-failover", master, at=True)
        master.failover_start_time = mstime() + random.randrange(MAX_DESYNC)
        master.failover_state_change_time = mstime()

    def start_failover_if_needed(self, master):
        if not master.flags & SRI_O_DOWN:
            return False
        if master.flags & SRI_FAILOVER_IN_PROGRESS:
            return False
        if mstime() - master.failover_start_time < master.failover_timeout * 2:
            if master.failover_delay_logged != master.failover_start_time:
                clock = (master.failover_start_time + master.failover_timeout * 2) // 1000
                master.failover_delay_logged = master.failover_start_time
                self.log(LL_WARNING, "Next failover delay: I will not start a failover before "
                         "%s" % time.ctime(clock))
            return False
        self.start_failover(master)
        return True

    def select_slave(self, master):
        now = mstime()
        max_master_down_time = 0
        if master.flags & SRI_S_DOWN:
            max_master_down_time += now - master.s_down_since_time
        max_master_down_time += master.down_after_period * 10
        cands = []
        for slave in master.slaves.values():
            if slave.flags & (SRI_S_DOWN | SRI_O_DOWN):
                continue
            if slave.link.disconnected:
                continue
            if now - slave.link.last_avail_time > self.ping_period * 5:
                continue
            if slave.slave_priority == 0:
                continue
            if master.flags & SRI_S_DOWN:
                validity = self.ping_period * 5
            else:
                validity = self.info_period * 3
            if now - slave.info_refresh > validity:
                continue
            if slave.master_link_down_time > max_master_down_time:
                continue
            cands.append(slave)
        if not cands:
            return None

        def key(s):
            # priority asc, offset desc, runid asc (case-insensitive), NULL runid last
            return (s.slave_priority, -s.slave_repl_offset,
                    (1, "") if s.runid is None else (0, s.runid.lower()))
        cands.sort(key=key)
        return cands[0]

    def failover_wait_start(self, ri):
        leader = self.get_leader(ri, ri.failover_epoch)
        isleader = leader is not None and leader.lower() == self.myid.lower()
        if not isleader and not ri.flags & SRI_FORCE_FAILOVER:
            election_timeout = min(self.election_timeout, ri.failover_timeout)
            if mstime() - ri.failover_start_time > election_timeout:
                self.event(LL_WARNING, "-failover-abort-not-elected", ri, at=True)
                self.abort_failover(ri)
            return
        self.event(LL_WARNING, "+elected-leader", ri, at=True)
        if self.simfailure_flags & SIMFAILURE_CRASH_AFTER_ELECTION:
            self.sim_failure_crash()
        ri.failover_state = FO_SELECT_SLAVE
        ri.failover_state_change_time = mstime()
        self.event(LL_WARNING, "+failover-state-select-slave", ri, at=True)

    def failover_select_slave(self, ri):
        slave = self.select_slave(ri)
        if slave is None:
            self.event(LL_WARNING, "-failover-abort-no-good-slave", ri, at=True)
            self.abort_failover(ri)
        else:
            self.event(LL_WARNING, "+selected-slave", slave, at=True)
            slave.flags |= SRI_PROMOTED
            ri.promoted_slave = slave
            ri.failover_state = FO_SEND_SLAVEOF_NOONE
            ri.failover_state_change_time = mstime()
            self.event(LL_NOTICE, "+failover-state-send-slaveof-noone", slave, at=True)

    def failover_send_slaveof_noone(self, ri):
        if ri.promoted_slave.link.disconnected:
            if mstime() - ri.failover_state_change_time > ri.failover_timeout:
                self.event(LL_WARNING, "-failover-abort-slave-timeout", ri, at=True)
                self.abort_failover(ri)
            return
        if not self.send_slaveof(ri.promoted_slave, None):
            return
        self.event(LL_NOTICE, "+failover-state-wait-promotion", ri.promoted_slave, at=True)
        ri.failover_state = FO_WAIT_PROMOTION
        ri.failover_state_change_time = mstime()

    def failover_wait_promotion(self, ri):
        if mstime() - ri.failover_state_change_time > ri.failover_timeout:
            self.event(LL_WARNING, "-failover-abort-slave-timeout", ri, at=True)
            self.abort_failover(ri)

    def failover_detect_end(self, master):
        not_reconfigured = 0
        timeout = False
        elapsed = mstime() - master.failover_state_change_time
        if master.promoted_slave is None or master.promoted_slave.flags & SRI_S_DOWN:
            return
        for slave in master.slaves.values():
            if slave.flags & (SRI_PROMOTED | SRI_RECONF_DONE):
                continue
            if slave.flags & SRI_S_DOWN:
                continue
            not_reconfigured += 1
        if elapsed > master.failover_timeout:
            not_reconfigured = 0
            timeout = True
            self.event(LL_WARNING, "+failover-end-for-timeout", master, at=True)
        if not_reconfigured == 0:
            self.event(LL_WARNING, "+failover-end", master, at=True)
            master.failover_state = FO_UPDATE_CONFIG
            master.failover_state_change_time = mstime()
        if timeout:
            for slave in master.slaves.values():
                if slave.flags & (SRI_PROMOTED | SRI_RECONF_DONE | SRI_RECONF_SENT):
                    continue
                if slave.link.disconnected:
                    continue
                if self.send_slaveof(slave, master.promoted_slave.addr):
                    self.event(LL_NOTICE, "+slave-reconf-sent-be", slave, at=True)
                    slave.flags |= SRI_RECONF_SENT

    def failover_reconf_next_slave(self, master):
        in_progress = sum(1 for s in master.slaves.values()
                          if s.flags & (SRI_RECONF_SENT | SRI_RECONF_INPROG))
        for slave in list(master.slaves.values()):
            if in_progress >= master.parallel_syncs:
                break
            if slave.flags & (SRI_PROMOTED | SRI_RECONF_DONE):
                continue
            if (slave.flags & SRI_RECONF_SENT
                    and mstime() - slave.slave_reconf_sent_time > self.slave_reconf_timeout):
                self.event(LL_NOTICE, "-slave-reconf-sent-timeout", slave, at=True)
                slave.flags &= ~SRI_RECONF_SENT
                slave.flags |= SRI_RECONF_DONE
            if slave.flags & (SRI_RECONF_SENT | SRI_RECONF_INPROG):
                continue
            if slave.link.disconnected:
                continue
            if self.send_slaveof(slave, master.promoted_slave.addr):
                slave.flags |= SRI_RECONF_SENT
                slave.slave_reconf_sent_time = mstime()
                self.event(LL_NOTICE, "+slave-reconf-sent", slave, at=True)
                in_progress += 1
        self.failover_detect_end(master)

    def failover_switch_to_promoted_slave(self, master):
        ref = master.promoted_slave if master.promoted_slave is not None else master
        self.event(LL_WARNING, "+switch-master", master, "%s %s %d %s %d", master.name,
                   self.announce_addr(master.addr), master.addr.port,
                   self.announce_addr(ref.addr), ref.addr.port)
        self.reset_master_and_change_address(master, ref.addr.hostname, ref.addr.port)

    def failover_state_machine(self, ri):
        if not ri.flags & SRI_FAILOVER_IN_PROGRESS:
            return
        st = ri.failover_state
        if st == FO_WAIT_START:
            self.failover_wait_start(ri)
        elif st == FO_SELECT_SLAVE:
            self.failover_select_slave(ri)
        elif st == FO_SEND_SLAVEOF_NOONE:
            self.failover_send_slaveof_noone(ri)
        elif st == FO_WAIT_PROMOTION:
            self.failover_wait_promotion(ri)
        elif st == FO_RECONF_SLAVES:
            self.failover_reconf_next_slave(ri)

    def abort_failover(self, ri):
        ri.flags &= ~(SRI_FAILOVER_IN_PROGRESS | SRI_FORCE_FAILOVER)
        ri.failover_state = FO_NONE
        ri.failover_state_change_time = mstime()
        if ri.promoted_slave is not None:
            ri.promoted_slave.flags &= ~SRI_PROMOTED
            ri.promoted_slave = None

    # ---- quorum check ------------------------------------------------------------------
    def is_quorum_reachable(self, master):
        usable = 1
        voters = len(master.sentinels) + 1
        for ri in master.sentinels.values():
            if ri.flags & (SRI_S_DOWN | SRI_O_DOWN):
                continue
            usable += 1
        result = 0
        if usable < master.quorum:
            result |= 1
        if usable < voters // 2 + 1:
            result |= 2
        return result, usable

    # ---- timer -------------------------------------------------------------------------
    def handle_instance(self, ri):
        self.reconnect_instance(ri)
        self.send_periodic_commands(ri)
        if self.tilt:
            if mstime() - self.tilt_start_time < self.tilt_period:
                return
            self.tilt = 0
            self.event(LL_WARNING, "-tilt", None, "#tilt mode exited")
        self.check_subjectively_down(ri)
        if ri.flags & SRI_MASTER:
            self.check_objectively_down(ri)
            if self.start_failover_if_needed(ri):
                self.ask_master_state_to_other_sentinels(ri, True)
            self.failover_state_machine(ri)
            self.ask_master_state_to_other_sentinels(ri, False)

    def handle_dict(self, instances):
        switch_to_promoted = None
        for ri in list(instances.values()):
            if getattr(ri, "released", False):
                continue
            self.handle_instance(ri)
            if ri.flags & SRI_MASTER:
                self.handle_dict(ri.slaves)
                self.handle_dict(ri.sentinels)
                if ri.failover_state == FO_UPDATE_CONFIG:
                    switch_to_promoted = ri
        if switch_to_promoted is not None:
            self.failover_switch_to_promoted_slave(switch_to_promoted)

    def check_tilt(self):
        now = mstime()
        delta = now - self.previous_time
        if delta < 0 or delta > self.tilt_trigger:
            self.tilt = 1
            self.tilt_start_time = mstime()
            self.event(LL_WARNING, "+tilt", None, "#tilt mode entered")
        self.previous_time = mstime()

    def timer(self):
        self.timer_handle = None
        try:
            self.check_tilt()
            self.handle_dict(self.masters)
            self.run_pending_scripts()
            self.collect_terminated_scripts()
            self.kill_timedout_scripts()
        except Exception:
            import traceback
            self.log(LL_WARNING, "Sentinel timer error: %s" % traceback.format_exc())
        hz = 10 + random.randrange(10)
        stopped = self.srv.stopped
        if stopped is None or not stopped.done():
            self.timer_handle = self.loop.call_later(1.0 / hz, self.timer)

    def start(self, loop):
        self.loop = loop
        self.previous_time = mstime()
        self.timer_handle = loop.call_later(0.1, self.timer)

    def shutdown(self):
        if self.timer_handle is not None:
            self.timer_handle.cancel()
            self.timer_handle = None
        for sj in self.scripts_queue:
            if sj.running and sj.proc is not None and sj.pid:
                try:
                    sj.proc.kill()
                except OSError:
                    pass


class _FailedProc:
    """A script whose execve failed (the child's _exit(2))."""
    pid = 0

    def __init__(self, rc):
        self.rc = rc

    def poll(self):
        return self.rc

    def kill(self):
        pass
