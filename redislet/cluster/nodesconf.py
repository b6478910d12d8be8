"""nodes.conf: the node table in CLUSTER NODES format plus a 'vars' line, loaded at start
and rewritten in place whenever the configuration changes (as Redis 7.0 does). The node
descriptions here also serve CLUSTER NODES and CLUSTER REPLICAS."""
import fcntl
import os
import sys
from itertools import compress, groupby

from .node import (ClusterNode, MASTER, SLAVE, PFAIL, FAIL, MYSELF, HANDSHAKE, NOADDR,
                   NOFAILOVER, flags_repr, mstime, valid_name)
from ..util import split_args

_FLAG_BITS = {"myself": MYSELF, "master": MASTER, "slave": SLAVE, "fail?": PFAIL,
              "fail": FAIL, "handshake": HANDSHAKE, "noaddr": NOADDR,
              "nofailover": NOFAILOVER, "noflags": 0}


class ConfigCorrupted(Exception):
    pass


class NodesConf:
    lock_fd = -1

    def config_path(self):
        return self.config["cluster-config-file"]

    # -- locking ----------------------------------------------------------------------------
    def lock_config(self):
        """clusterLockConfig: one process per nodes.conf (flock, held until exit)."""
        path = self.config_path()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            self.log("warning", "Can't open %s in order to acquire a lock: %s"
                     % (path, e.strerror))
            sys.exit(1)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            import errno
            if e.errno == errno.EWOULDBLOCK:
                self.log("warning", "Sorry, the cluster configuration file %s is already "
                         "used by a different Redis Cluster node. Please make sure that "
                         "different nodes use different cluster configuration files." % path)
            else:
                self.log("warning", "Impossible to lock %s: %s" % (path, e.strerror))
            os.close(fd)
            sys.exit(1)
        self.lock_fd = fd

    # -- loading ----------------------------------------------------------------------------
    def load_config(self):
        """clusterLoadConfig: False when there is no (or an empty) file; a corrupted file
        stops the server as in Redis."""
        path = self.config_path()
        try:
            with open(path, "rb") as f:
                text = f.read()
        except FileNotFoundError:
            return False
        except OSError as e:
            self.log("warning", "Loading the cluster node config from %s: %s"
                     % (path, e.strerror))
            sys.exit(1)
        if not text:
            return False
        try:
            self._parse_config(text)
        except (ConfigCorrupted, ValueError, IndexError):
            self.log("warning", "Unrecoverable error: corrupted cluster config file.")
            sys.exit(1)
        self.log("notice", "Node configuration loaded, I'm %s" % self.myself.name)
        if self.max_epoch() > self.current_epoch:
            self.current_epoch = self.max_epoch()
        return True

    def _node_named(self, name):
        if not valid_name(name):
            raise ConfigCorrupted
        n = self.nodes.get(name)
        if n is None:
            n = ClusterNode(name, 0)
            self.add_node(n)
        return n

    def _parse_config(self, text):
        for raw in text.split(b"\n"):
            if not raw or raw == b"\r":
                continue
            argv = split_args(raw)
            if argv is None:
                raise ConfigCorrupted
            if not argv:
                continue
            argv = [a.decode("utf-8", "surrogateescape") for a in argv]
            if argv[0].lower() == "vars":
                if not len(argv) % 2:
                    raise ConfigCorrupted
                for j in range(1, len(argv), 2):
                    k = argv[j].lower()
                    if k == "currentepoch":
                        self.current_epoch = _strtoull(argv[j + 1])
                    elif k == "lastvoteepoch":
                        self.last_vote_epoch = _strtoull(argv[j + 1])
                    else:
                        self.log("warning", "Skipping unknown cluster config variable '%s'"
                                 % argv[j])
                continue
            if len(argv) < 8:
                raise ConfigCorrupted
            n = self._node_named(argv[0])
            addr = argv[1]
            if "," in addr:
                addr, n.hostname = addr.split(",", 1)
            else:
                n.hostname = ""
            if ":" not in addr:
                raise ConfigCorrupted
            n.ip, port = addr.rsplit(":", 1)
            port, _, busp = port.partition("@")
            n.port = _atoi(port)
            n.cport = _atoi(busp) if busp else n.port + 10000
            for flag in argv[2].split(","):
                bit = _FLAG_BITS.get(flag.lower())
                if bit is None:
                    self.log("warning", "Unknown flag in redis cluster config file")
                    raise ConfigCorrupted
                if bit == MYSELF:
                    if self.myself is not None:
                        raise ConfigCorrupted
                    self.myself = n
                if bit == FAIL:
                    n.fail_time = mstime()
                n.flags |= bit
            if argv[3][:1] != "-":
                master = self._node_named(argv[3])
                n.slaveof = master
                master.add_slave(n)
            if _atoi(argv[4]):
                n.ping_sent = mstime()
            if _atoi(argv[5]):
                n.pong_received = mstime()
            n.config_epoch = 0 if (n.is_slave() and n.slaveof) else _strtoull(argv[6])
            for item in argv[8:]:
                if item.startswith("["):
                    # [slot->-node] migrating, [slot-<-node] importing
                    slot_s, rest = item[1:].split("-", 1)
                    slot = _atoi(slot_s)
                    direction = rest[:1]
                    end = rest.find("]")
                    if not 0 <= slot < 16384 or end < 0:
                        raise ConfigCorrupted
                    other = self._node_named(rest[2:end])
                    if direction == ">":
                        self.migrating_slots_to[slot] = other
                    else:
                        self.importing_slots_from[slot] = other
                    continue
                if "-" in item:
                    a, b = item.split("-", 1)
                    start, stop = _atoi(a), _atoi(b)
                else:
                    start = stop = _atoi(item)
                if not (0 <= start < 16384 and 0 <= stop < 16384):
                    raise ConfigCorrupted
                for s in range(start, stop + 1):
                    self.add_slot(n, s)
        if self.myself is None:
            raise ConfigCorrupted

    # -- saving -----------------------------------------------------------------------------
    def save_config(self, do_fsync):
        """clusterSaveConfig: rewritten in place, on the file the lock is held on; a longer
        old file is overwritten with newline padding first, then truncated (the padding is
        what a crash between the two leaves, and the loader skips blank lines). Raises
        OSError."""
        self.todo &= ~4          # TODO_SAVE_CONFIG
        content = (self.nodes_description(HANDSHAKE)
                   + "vars currentEpoch %d lastVoteEpoch %d\n"
                   % (self.current_epoch, self.last_vote_epoch)).encode("utf-8",
                                                                          "surrogateescape")
        fd = os.open(self.config_path(), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            size = len(content)
            old = os.fstat(fd).st_size
            data = content + b"\n" * (old - size) if old > size else content
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if do_fsync:
                self.todo &= ~8  # TODO_FSYNC_CONFIG
                os.fsync(fd)
            if len(data) != size:
                try:
                    os.ftruncate(fd, size)
                except OSError:
                    pass         # (not critical: the tail is blank lines)
        finally:
            os.close(fd)

    def save_config_or_die(self, do_fsync):
        try:
            self.save_config(do_fsync)
        except OSError:
            self.log("warning", "Fatal: can't update cluster config file.")
            sys.exit(1)

    # -- descriptions -----------------------------------------------------------------------
    def node_description(self, node, use_pport=False, ranges=None):
        """clusterGenNodeDescription: one CLUSTER NODES line (without the newline)."""
        port = node.pport if use_pport and node.pport else node.port
        if node.hostname:
            addr = "%s:%d@%d,%s" % (node.ip, port, node.cport, node.hostname)
        else:
            addr = "%s:%d@%d" % (node.ip, port, node.cport)
        epoch = node.config_epoch
        if node.is_slave() and node.slaveof is not None:
            epoch = node.slaveof.config_epoch
        parts = [node.name, addr, flags_repr(node.flags),
                 node.slaveof.name if node.slaveof is not None else "-",
                 str(node.ping_sent), str(node.pong_received), str(epoch),
                 "connected" if (node.link is not None or node.flags & MYSELF)
                 else "disconnected"]
        if ranges is None:
            ranges = node.slot_ranges() if node.numslots else ()
        for a, b in ranges:
            parts.append(str(a) if a == b else "%d-%d" % (a, b))
        if node.flags & MYSELF:
            mig, imp = self.migrating_slots_to, self.importing_slots_from
            # the slots with an open state, found by C-level scans of the two tables
            for j in sorted({*_not_none(mig), *_not_none(imp)}):
                if mig[j] is not None:
                    parts.append("[%d->-%s]" % (j, mig[j].name))
                else:
                    parts.append("[%d-<-%s]" % (j, imp[j].name))
        return " ".join(parts)

    def slot_map_runs(self):
        """[(owner, start, end)] for each run of slots with one owner, in slot order
        (unassigned runs left out); kept until a slot changes owner (add_slot, del_slot).
        groupby compares the nodes by identity, in C."""
        runs = self.slot_runs
        if runs is None:
            runs = self.slot_runs = []
            start = 0
            for n, run in groupby(self.slots):
                end = start + len(list(run))
                if n is not None:
                    runs.append((n, start, end - 1))
                start = end
        return runs

    def slot_ranges_by_owner(self):
        """clusterGenNodesSlotsInfo: node -> its slot ranges from the slot map."""
        out = {}
        for n, start, end in self.slot_map_runs():
            out.setdefault(n, []).append((start, end))
        return out

    def nodes_description(self, filter_flags=0, use_pport=False):
        """clusterGenNodesDescription: every node not matching filter_flags, one per line."""
        ranges = self.slot_ranges_by_owner()
        lines = []
        for node in list(self.nodes.values()):
            if node.flags & filter_flags:
                continue
            r = ranges.get(node)
            if r is None and node.numslots:
                r = node.slot_ranges()    # slots in its bitmap not in the map
            lines.append(self.node_description(node, use_pport, r or ()) + "\n")
        return "".join(lines)


def _not_none(table):
    """The indexes of table's entries that are not None, by scans in C: usually every
    entry is None (count's identity test), else compress tests each entry's truth (a node
    is always true)."""
    if table.count(None) == len(table):
        return ()
    return compress(range(len(table)), table)


def _atoi(s):
    """atoi: leading digits (with sign), 0 when none."""
    s = s.strip()
    i = 0
    if s[:1] in ("-", "+"):
        i = 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    return int(s[:j]) if j > i else 0


def _strtoull(s):
    v = _atoi(s)
    return v & 0xFFFFFFFFFFFFFFFF
