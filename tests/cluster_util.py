"""Run small Redis Clusters in tests: real redis-server nodes, redislet nodes, or a mix.

    from cluster_util import Cluster

    with Cluster(tmp_path) as c:                       # teardown kills every node, always
        c.start_nodes(["redis"] * 3 + ["redislet"] * 3)
        c.create(replicas=1)                           # redis-cli --cluster create, then wait_ok
        rc = c.client(protocol=3)                      # redis.cluster.RedisCluster
        m = c.master_for_slot(0)
        r = c.replicas_of(m)[0]
        m.kill()                                       # SIGKILL
        assert c.wait_failover(m) is r

Node kinds: "redis" = Debian's real redis-server 7.0.15 (/usr/bin/redis-server), "redislet" =
[sys.executable, "-m", "redislet"] with PYTHONPATH = the repo root (as tests/conftest.py's
ServerProcess does). Every node gets its own directory and two free ports taken by binding port
0 (client port P and cluster bus port CP, passed as --cluster-port: nothing here assumes
P+10000), and is started with

    --port P --cluster-port CP --bind 127.0.0.1 --cluster-enabled yes
    --cluster-config-file nodes.conf --cluster-node-timeout MS (default 2000)
    --save "" --appendonly no --repl-diskless-sync-delay 0
    --enable-debug-command yes (conftest.TEST_DEFAULTS) [extra args]

(repl-diskless-sync-delay 0, as in Redis's own cluster suite: a replica's first sync would
otherwise wait 5 s.)

Its stdout/stderr go to DIR/server.log (server.log.N for earlier runs after restart()).

Two ways to form the cluster:

* create_cluster(nodes, replicas=N) runs `redis-cli --cluster create ... --cluster-replicas N
  --cluster-yes`. How redis-cli 7.0.15 assigns roles (clusterManagerCommandCreate in
  src/redis-cli.c): it groups the nodes by IP and interleaves the groups (take one node per IP in
  turn); with every node on 127.0.0.1 that order is simply the argument order. The first
  len(nodes) // (N+1) nodes of that order become the masters, and get contiguous slot ranges
  split as evenly as possible, in order (3 masters: 0-5460, 5461-10922, 10923-16383). The rest
  become replicas: the list is rotated by one, then each master in turn takes the first
  remaining node on a different IP, or else (all on one IP) the first remaining node, N times;
  leftovers are spread one per master ("Adding extra replicas"). Then
  clusterManagerOptimizeAntiAffinity makes up to 500*len(nodes) random swaps of two replicas'
  masters, keeping every swap that does not raise the "same host" score. On one IP the score
  never changes, so every swap is kept and WHICH master each replica follows is effectively
  random (srand(time(NULL))). So: the first len//(N+1) arguments are the masters, for sure; the
  master-replica pairing is not controllable. Then it sends CLUSTER ADDSLOTS / CLUSTER
  SET-CONFIG-EPOCH (1, 2, ... in argument order) / CLUSTER MEET (everyone meets the first node,
  with its bus port when that is not port+10000), waits for the nodes to agree, and sends
  CLUSTER REPLICATE to the replicas.

* create_cluster_manual(masters, replicas_of) does it by hand with exact pairing, for tests that
  need e.g. a real master with a redislet replica: CLUSTER SET-CONFIG-EPOCH i (as redis-cli),
  CLUSTER ADDSLOTSRANGE (same even split as redis-cli), CLUSTER MEET <first node> (ip, port, bus
  port), wait until every node knows every node, CLUSTER REPLICATE <master id> per replica.

Both end with wait_ok() (Cluster.consistent): every live node reports cluster_state:ok in
CLUSTER INFO, all live nodes return the same CLUSTER SLOTS (normalised: sorted ranges, replicas
sorted, metadata dropped) covering all 16384 slots, all agree in CLUSTER NODES on who replicates
whom (with the expected number of replicas), and every replica has role:slave and
master_link_status:up in INFO replication. (Replicas are checked in CLUSTER NODES because Redis
7.0 leaves a replica out of CLUSTER SLOTS until its replication offset is non-zero, which on an
idle new cluster takes up to repl-ping-replica-period = 10 s.)

Every wait is bounded (TimeoutError with a state dump of all nodes), every redis-cli run has a
timeout (killed on expiry), and every node is killed on Cluster teardown, and at interpreter exit
as a last resort. Only 127.0.0.1 is used.
"""
import atexit
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot as _key_slot

from conftest import ROOT, TEST_DEFAULTS, Raw, ServerProcess, free_port, wait_ready

HOST = "127.0.0.1"
NSLOTS = 16384


def _find(path, name):
    return path if os.path.exists(path) else shutil.which(name)


REDIS_SERVER = _find("/usr/bin/redis-server", "redis-server")
REDIS_CLI = _find("/usr/bin/redis-cli", "redis-cli")
KINDS = ("redis", "redislet")
DEFAULT_NODE_TIMEOUT = 2000        # ms, --cluster-node-timeout


def tools_missing():
    """None when real redis-server and redis-cli are installed, else the reason to skip."""
    missing = [n for n, p in (("redis-server", REDIS_SERVER), ("redis-cli", REDIS_CLI)) if not p]
    if missing:
        return ("%s not installed (Debian packages redis-server, redis-tools): the cluster tests "
                "need the real server as baseline and redis-cli --cluster" % " and ".join(missing))
    return None


class ClusterSetupError(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------
# nodes

_ALL_NODES = set()            # every node started by this module: killed at exit at the latest
_ALL_LOCK = threading.Lock()


def _kill_all_at_exit():
    with _ALL_LOCK:
        nodes = list(_ALL_NODES)
    for n in nodes:
        try:
            n.kill()
        except Exception:
            pass


atexit.register(_kill_all_at_exit)


def _two_free_ports():
    """Client port and bus port: two distinct ports that were free (bound to port 0)."""
    p = free_port()
    for _ in range(50):
        cp = free_port()
        if cp != p:
            return p, cp
    raise RuntimeError("could not find two distinct free ports")


class _NodeProcess(ServerProcess):
    """conftest.ServerProcess minus the start-up wait in __init__, so that the Popen handle
    exists (and the process can be killed) even when the wait fails; stop() is inherited."""

    def __init__(self, argv, port, cwd):
        self.port = port
        self.cwd = cwd
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.log = open(os.path.join(cwd, "server.log"), "wb")
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, stdin=subprocess.DEVNULL)


class Node:
    """One server process in cluster mode. host/port/cport/kind/dir/proc; node_id once known."""

    def __init__(self, kind, dirpath, port, cport, argv):
        self.kind = kind
        self.dir = dirpath
        self.host = HOST
        self.port = port
        self.cport = cport
        self.argv = argv
        self.server = None
        self._conn = None
        self._conn_lock = threading.Lock()
        self._node_id = None

    # -- process --
    def _spawn(self):
        log = os.path.join(self.dir, "server.log")
        if os.path.exists(log):          # keep the log of an earlier run (restart)
            k = 1
            while os.path.exists("%s.%d" % (log, k)):
                k += 1
            os.rename(log, "%s.%d" % (log, k))
        self.server = None
        server = _NodeProcess(self.argv, self.port, self.dir)
        self.server = server
        with _ALL_LOCK:
            _ALL_NODES.add(self)
        try:
            wait_ready(self.port, server.proc, timeout=30)
            pid = self.info("server").get("process_id")
            if pid is not None and int(pid) != server.proc.pid:
                raise RuntimeError("port %d answered by another process (pid %s, ours %d)"
                                   % (self.port, pid, server.proc.pid))
        except Exception:
            self.kill()
            raise

    @property
    def proc(self):
        return self.server.proc if self.server else None

    @property
    def alive(self):
        return self.server is not None and self.server.proc.poll() is None

    def kill(self):
        """SIGKILL (no shutdown, no save), and reap."""
        self._drop_conn()
        if self.server is None:
            return
        p = self.server.proc
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if not self.server.log.closed:
            self.server.log.close()
        with _ALL_LOCK:
            _ALL_NODES.discard(self)

    def stop(self):
        """SIGTERM (a normal shutdown), SIGKILL after 10 s."""
        self._drop_conn()
        if self.server is None:
            return
        self.server.stop()
        with _ALL_LOCK:
            _ALL_NODES.discard(self)

    def restart(self):
        """Start again (after kill/stop) with the same ports, directory and nodes.conf."""
        if self.alive:
            raise RuntimeError("node %s is running" % self)
        self._spawn()
        return self

    # -- commands --
    def _drop_conn(self):
        with self._conn_lock:
            if self._conn is not None:
                try:
                    self._conn.disconnect()
                except Exception:
                    pass
                self._conn = None

    def call(self, *args, timeout=10):
        """One command on a private connection, no redis-py reply callbacks (RESP2, str
        replies); error replies raise redis.ResponseError, a dead node ConnectionError."""
        with self._conn_lock:
            if self._conn is None:
                self._conn = redis.Connection(host=self.host, port=self.port,
                                              socket_timeout=timeout, socket_connect_timeout=2,
                                              decode_responses=True)
            conn = self._conn
            try:
                conn.send_command(*args)
                return conn.read_response()
            except redis.ResponseError:
                raise
            except Exception:
                conn.disconnect()
                self._conn = None
                raise

    def client(self, **kw):
        """A plain redis.Redis on this node (decode_responses=True unless told otherwise)."""
        kw.setdefault("decode_responses", True)
        kw.setdefault("socket_timeout", 10)
        kw.setdefault("socket_connect_timeout", 2)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def raw(self, timeout=5):
        """conftest.Raw: exact reply bytes (caller closes)."""
        return Raw(self.port, timeout=timeout)

    def info(self, section=None):
        text = self.call("INFO", section) if section else self.call("INFO")
        return parse_info(text)

    def cluster_info(self):
        return parse_info(self.call("CLUSTER", "INFO"))

    def cluster_nodes(self):
        return parse_cluster_nodes(self.call("CLUSTER", "NODES"))

    def slots_view(self):
        return normalize_slots(self.call("CLUSTER", "SLOTS"))

    @property
    def node_id(self):
        if self._node_id is None:
            self._node_id = self.call("CLUSTER", "MYID")
        return self._node_id

    def role(self):
        return self.info("replication").get("role")

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    def __repr__(self):
        return "<%s node %s%s>" % (self.kind, self.addr, "" if self.alive else " (down)")


def start_node(kind, tmpdir, *extra_args, node_timeout=DEFAULT_NODE_TIMEOUT, name=None):
    """Start one cluster-enabled node of `kind` ("redis" or "redislet") in its own directory
    under tmpdir (tmpdir/name, default <kind>-<port>); returns a Node once it answers PING.
    A port taken between choosing and binding (machine shared) is retried with new ports."""
    if kind not in KINDS:
        raise ValueError("kind must be one of %s" % (KINDS,))
    if kind == "redis":
        if not REDIS_SERVER:
            raise ClusterSetupError(tools_missing())
        prog = [REDIS_SERVER]
    else:
        prog = [sys.executable, "-m", "redislet"]
    last = None
    for _ in range(5):
        port, cport = _two_free_ports()
        d = os.path.join(str(tmpdir), name or "%s-%d" % (kind, port))
        os.makedirs(d, exist_ok=True)
        argv = prog + ["--port", str(port), "--cluster-port", str(cport), "--bind", HOST,
                       "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                       "--cluster-node-timeout", str(node_timeout),
                       "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0",
                       *TEST_DEFAULTS, *extra_args]
        node = Node(kind, d, port, cport, argv)
        try:
            node._spawn()
            return node
        except Exception as e:     # e.g. "Address already in use": try other ports
            last = e
            log = os.path.join(d, "server.log")
            text = open(log, "rb").read().decode("utf-8", "replace") if os.path.exists(log) else ""
            if "in use" not in text and "EADDRINUSE" not in text:
                raise RuntimeError("%s node did not start: %s\n--- %s:\n%s"
                                   % (kind, e, log, text[-3000:])) from e
    raise RuntimeError("could not start a %s node: %s" % (kind, last))


# ------------------------------------------------------------------------------------------
# parsing

def parse_info(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def parse_cluster_nodes(text):
    """CLUSTER NODES -> list of dicts: id, addr ("ip:port"), port, cport, flags (set),
    master (id or None), link, slots (raw tokens)."""
    nodes = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 8:
            continue
        addr = f[1].split(",")[0]
        hostport, _, cport = addr.partition("@")
        ip, _, port = hostport.rpartition(":")
        nodes.append({"id": f[0], "addr": hostport, "ip": ip, "port": int(port or 0),
                      "cport": int(cport or 0), "flags": set(f[2].split(",")),
                      "master": None if f[3] == "-" else f[3], "epoch": int(f[6]),
                      "link": f[7], "slots": f[8:]})
    return nodes


def normalize_slots(reply):
    """CLUSTER SLOTS -> sorted tuple of (start, end, (ip, port, id), sorted replicas),
    networking metadata dropped, so that views of different nodes compare equal."""
    def ep(e):
        return (e[0], int(e[1]), e[2] if len(e) > 2 else None)
    out = []
    for ent in reply:
        out.append((int(ent[0]), int(ent[1]), ep(ent[2]), tuple(sorted(ep(r) for r in ent[3:]))))
    return tuple(sorted(out))


def slot_count(view, port=None):
    return sum(e - s + 1 for s, e, m, _ in view if port is None or m[1] == port)


def split_slots(nmasters):
    """redis-cli's split of 0..16383 over n masters: list of (first, last)."""
    per = NSLOTS / float(nmasters)
    ranges, first, cursor = [], 0, 0.0
    for i in range(nmasters):
        last = math.floor(cursor + per - 1 + 0.5)     # C lround (values are >= 0)
        if last > NSLOTS or i == nmasters - 1:
            last = NSLOTS - 1
        last = max(last, first)
        ranges.append((first, last))
        first = last + 1
        cursor += per
    return ranges


def key_slot(key):
    if isinstance(key, str):
        key = key.encode()
    return _key_slot(key)


_SLOT_TAGS = None


def slot_tag(slot):
    """A hash tag string whose slot is `slot` (table built once: about 0.3 s)."""
    global _SLOT_TAGS
    if _SLOT_TAGS is None:
        tags, i, missing = [None] * NSLOTS, 0, NSLOTS
        while missing:
            t = "t%d" % i
            s = _key_slot(t.encode())
            if tags[s] is None:
                tags[s] = t
                missing -= 1
            i += 1
        _SLOT_TAGS = tags
    return _SLOT_TAGS[slot]


def key_in_slot(slot, name="k"):
    """A key that hashes to `slot`: "{tag}name"."""
    return "{%s}%s" % (slot_tag(slot), name)


def slots_in(ranges):
    for s, e in ranges:
        yield from range(s, e + 1)


# ------------------------------------------------------------------------------------------
# waiting

def wait_for(predicate, timeout, interval=0.1, what="condition", describe=None):
    """Call predicate() until it returns something truthy (returned); connection and reply
    errors count as "not yet". TimeoutError after `timeout` s, with describe()'s text."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = predicate()
            if v:
                return v
        except (redis.RedisError, OSError) as e:
            last_exc = e
        if time.monotonic() >= deadline:
            msg = "timed out after %ss waiting for %s" % (timeout, what)
            if last_exc is not None:
                msg += " (last error: %r)" % (last_exc,)
            if describe is not None:
                try:
                    msg += "\n" + describe()
                except Exception as e:
                    msg += "\n(state unavailable: %r)" % (e,)
            raise TimeoutError(msg)
        time.sleep(interval)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_cli(*args, timeout=60, check=False):
    """Run redis-cli with args (killed after `timeout` s: TimeoutError with its output).
    result.output: stdout+stderr as text without the colour codes redis-cli always emits."""
    if not REDIS_CLI:
        raise ClusterSetupError(tools_missing())
    try:
        res = subprocess.run([REDIS_CLI, *map(str, args)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:      # subprocess.run has killed it
        out = (e.output or b"").decode("utf-8", "replace")
        raise TimeoutError("redis-cli %s: no exit after %ss; output:\n%s"
                           % (" ".join(map(str, args)), timeout, out[-4000:])) from None
    res.output = _ANSI.sub("", res.stdout.decode("utf-8", "replace"))
    if check and res.returncode != 0:
        raise ClusterSetupError("redis-cli %s exited %d:\n%s"
                                % (" ".join(map(str, args)), res.returncode, res.output[-4000:]))
    return res


# ------------------------------------------------------------------------------------------
# the cluster

class Topology:
    """What the live nodes agree on: view = normalised CLUSTER SLOTS, master_of = {replica
    port: master port} from CLUSTER NODES."""

    def __init__(self, view, master_of):
        self.view = view
        self.master_of = master_of

    def __bool__(self):
        return True

    def __repr__(self):
        return "Topology(view=%r, master_of=%r)" % (self.view, self.master_of)


class Cluster:
    """A set of nodes forming (or about to form) one cluster. Context manager: teardown()
    kills every node on exit, whatever happened."""

    def __init__(self, tmpdir=None, nodes=(), node_timeout=DEFAULT_NODE_TIMEOUT):
        self.tmpdir = str(tmpdir) if tmpdir is not None else None
        self.nodes = list(nodes)
        self.node_timeout = node_timeout
        self._clients = []
        self.initial = None      # topology right after create: {"masters": [...], "replica_of": {}}
        self._replica_snapshot = {}     # master Node -> [replica Nodes], from the last wait_ok
        self._slots_snapshot = {}       # master Node -> [(first, last)], from the last wait_ok

    # -- lifetime --
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.teardown()
        return False

    def teardown(self):
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        self._clients = []
        for n in self.nodes:
            n.kill()

    # -- nodes --
    def start_node(self, kind, *extra_args, name=None):
        if self.tmpdir is None:
            raise ValueError("Cluster(tmpdir=...) needed to start nodes")
        n = start_node(kind, self.tmpdir, *extra_args, node_timeout=self.node_timeout,
                       name=name or "n%d-%s" % (len(self.nodes), kind))
        self.nodes.append(n)
        return n

    def start_nodes(self, kinds, *extra_args):
        """Start nodes of the given kinds in parallel; they are appended in the given order.
        If any fails, the others are still registered (teardown kills them) and the first
        error is raised."""
        base = len(self.nodes)

        def one(i_kind):
            i, kind = i_kind
            return start_node(kind, self.tmpdir, *extra_args, node_timeout=self.node_timeout,
                              name="n%d-%s" % (base + i, kind))
        results = []
        with ThreadPoolExecutor(max_workers=len(kinds)) as ex:
            futs = [ex.submit(one, ik) for ik in enumerate(kinds)]
            for f in futs:
                try:
                    results.append(f.result())
                except Exception as e:
                    results.append(e)
        started = [r for r in results if isinstance(r, Node)]
        self.nodes.extend(started)
        errors = [r for r in results if not isinstance(r, Node)]
        if errors:
            raise errors[0]
        return started

    @property
    def live_nodes(self):
        return [n for n in self.nodes if n.alive]

    def node_by_port(self, port):
        for n in self.nodes:
            if n.port == int(port):
                return n
        raise KeyError("no node with port %s" % port)

    def node_by_id(self, node_id):
        for n in self.nodes:
            if n._node_id == node_id:
                return n
        for n in self.live_nodes:
            if n.node_id == node_id:
                return n
        raise KeyError("no node with id %s" % node_id)

    # -- forming the cluster --
    def create(self, replicas=1, timeout=90):
        create_cluster(self.nodes, replicas=replicas, timeout=timeout, cluster=self)
        return self

    def create_manual(self, masters, replicas_of, timeout=90):
        create_cluster_manual(masters, replicas_of, timeout=timeout, cluster=self)
        return self

    # -- clients --
    @property
    def startup_nodes(self):
        return [ClusterNode(n.host, n.port) for n in self.live_nodes]

    def client(self, protocol=2, **kw):
        """redis.cluster.RedisCluster over the live nodes (closed at teardown)."""
        kw.setdefault("decode_responses", True)
        kw.setdefault("socket_timeout", 10)
        kw.setdefault("socket_connect_timeout", 2)
        c = RedisCluster(startup_nodes=self.startup_nodes, protocol=protocol, **kw)
        self._clients.append(c)
        return c

    # -- topology (asked live) --
    def _any_view(self):
        for n in self.live_nodes:
            try:
                return n.slots_view()
            except (redis.RedisError, OSError):
                continue
        raise ClusterSetupError("no live node answers CLUSTER SLOTS")

    def master_for_slot(self, slot):
        for s, e, m, _ in self._any_view():
            if s <= slot <= e:
                return self.node_by_port(m[1])
        raise KeyError("slot %d is not served" % slot)

    def slots_of(self, master):
        return [(s, e) for s, e, m, _ in self._any_view() if m[1] == master.port]

    def masters(self):
        """Live nodes serving slots, in slot order."""
        out = []
        for s, e, m, _ in self._any_view():
            n = self.node_by_port(m[1])
            if n not in out:
                out.append(n)
        return out

    def replicas_of(self, master):
        """Live replicas of master according to the live nodes' CLUSTER NODES (first node
        that answers)."""
        for n in self.live_nodes:
            try:
                nodes = n.cluster_nodes()
            except (redis.RedisError, OSError):
                continue
            mid = master.node_id if master.alive else master._node_id
            return [self.node_by_port(x["port"]) for x in nodes
                    if x["master"] == mid and "fail" not in x["flags"]
                    and self.node_by_port(x["port"]).alive]
        raise ClusterSetupError("no live node answers CLUSTER NODES")

    def pairs(self):
        """[(master, replica)] for every live master and each of its live replicas."""
        return [(m, r) for m in self.masters() for r in self.replicas_of(m)]

    # -- waiting --
    def describe(self):
        lines = []
        for n in self.nodes:
            if not n.alive:
                lines.append("  %r" % n)
                continue
            try:
                ci = n.cluster_info()
                rep = n.info("replication")
                view = n.slots_view()
                lines.append("  %r role=%s link=%s state=%s known=%s slots=%s" % (
                    n, rep.get("role"), rep.get("master_link_status", "-"),
                    ci.get("cluster_state"), ci.get("cluster_known_nodes"),
                    [(s, e, m[1], [r[1] for r in rs]) for s, e, m, rs in view]))
            except Exception as e:
                lines.append("  %r: %r" % (n, e))
        return "cluster state:\n" + "\n".join(lines)

    def wait_for(self, predicate, timeout=30, interval=0.1, what="condition"):
        return wait_for(predicate, timeout, interval, what, describe=self.describe)

    def consistent(self, replicas_per_master=None, replica_of=None, total_replicas=None):
        """A Topology when the live nodes agree and are healthy, else None:
        - every live node says cluster_state:ok in CLUSTER INFO;
        - all return the same CLUSTER SLOTS (normalised), covering the 16384 slots;
        - all agree in CLUSTER NODES on who is the master of every live node, and flag no live
          node fail/fail?/handshake/noaddr;
        - INFO replication agrees: a replica has role:slave, master_port = its master's port and
          master_link_status:up; the others role:master;
        - if given: each slot-serving master has `replicas_per_master` live replicas, there are
          `total_replicas` live replicas in all, each replica in `replica_of` (Node -> Node)
          follows its master.
        Replica relations come from CLUSTER NODES, not CLUSTER SLOTS: Redis 7.0 lists a replica
        in CLUSTER SLOTS only once its replication offset is non-zero (isReplicaAvailable), i.e.
        after the first write or the master's first ping to replicas (repl-ping-replica-period,
        10 s), so an idle new cluster shows none there for ~10 s."""
        live = self.live_nodes
        if not live:
            return None
        live_ports = {n.port for n in live}
        views, maps = [], []
        for n in live:
            if n.cluster_info().get("cluster_state") != "ok":
                return None
            views.append(n.slots_view())
            entries = n.cluster_nodes()
            port_of = {x["id"]: x["port"] for x in entries}
            mp = {}
            for x in entries:
                if x["port"] in live_ports:
                    if {"fail", "fail?", "handshake", "noaddr"} & x["flags"]:
                        return None
                    mp[x["port"]] = port_of.get(x["master"]) if x["master"] else None
            if set(mp) != live_ports:
                return None
            maps.append(mp)
        if any(v != views[0] for v in views[1:]) or slot_count(views[0]) != NSLOTS:
            return None
        if any(m != maps[0] for m in maps[1:]):
            return None
        master_of = maps[0]
        for n in live:
            rep = n.info("replication")
            mport = master_of[n.port]
            if mport is None:
                if rep.get("role") != "master":
                    return None
            elif (rep.get("role") != "slave" or rep.get("master_link_status") != "up"
                  or int(rep.get("master_port", -1)) != mport):
                return None
        topo = Topology(views[0], {p: m for p, m in master_of.items() if m is not None})
        serving = {m[1] for s, e, m, rs in topo.view}
        if replicas_per_master is not None:
            for mp in serving:
                if sum(1 for m in topo.master_of.values() if m == mp) != replicas_per_master:
                    return None
        if total_replicas is not None and len(topo.master_of) != total_replicas:
            return None
        if replica_of:
            for r, m in replica_of.items():
                if topo.master_of.get(r.port) != m.port:
                    return None
        return topo

    def wait_ok(self, timeout=60, replicas_per_master=None, replica_of=None, total_replicas=None):
        """Wait for consistent(...) (see there); then remember who replicates whom and the
        slot owners (used by wait_failover). Returns the Topology (.view: the agreed normalised
        CLUSTER SLOTS; .master_of: replica port -> master port)."""
        topo = self.wait_for(lambda: self.consistent(replicas_per_master, replica_of,
                                                     total_replicas),
                             timeout, 0.2, "cluster_state:ok, one slot map and replicas in sync")
        self._snapshot(topo)
        return topo

    def _snapshot(self, topo):
        reps, slots = {}, {}
        for s, e, m, rs in topo.view:
            mn = self.node_by_port(m[1])
            mn._node_id = m[2] or mn._node_id
            slots.setdefault(mn, []).append((s, e))
            reps.setdefault(mn, [])
        for rport, mport in sorted(topo.master_of.items()):
            reps.setdefault(self.node_by_port(mport), []).append(self.node_by_port(rport))
        self._replica_snapshot, self._slots_snapshot = reps, slots

    def wait_failover(self, old_master, timeout=30, candidates=None):
        """After old_master died (or was paused): wait until one of its replicas (candidates;
        default: its replicas at the last wait_ok) reports role:master, every live node agrees
        that it serves all of old_master's slots, and cluster_state is ok everywhere. Returns
        the promoted Node."""
        cands = list(candidates) if candidates is not None else \
            list(self._replica_snapshot.get(old_master, []))
        if not cands:
            raise ClusterSetupError("%r had no known replica" % old_master)
        old_slots = self._slots_snapshot.get(old_master) or []
        old_set = set(slots_in(old_slots))

        found = {}

        def promoted():
            topo = self.consistent()
            if not topo:
                return None
            for c in cands:
                if not c.alive or c.role() != "master":
                    continue
                mine = set(slots_in([(s, e) for s, e, m, _ in topo.view if m[1] == c.port]))
                if old_set <= mine:
                    found["topo"] = topo
                    return c
            return None
        new = self.wait_for(promoted, timeout, 0.2,
                            "a replica of %r (%r) to take over its slots" % (old_master, cands))
        self._snapshot(found["topo"])
        return new

    def failover(self, replica, *mode, timeout=30):
        """CLUSTER FAILOVER [FORCE|TAKEOVER] on replica; wait until it is a master serving
        slots and the cluster is consistent again. Returns the replica.
        Beware (real Redis 7.0.15): a node that won an election keeps its election state; if
        it becomes a replica again and its master fails within 2 * node-timeout of that
        election, it declares itself elected with the stale votes and old epoch, and the other
        nodes ignore its slot claim (cluster down). Leave 2 * node-timeout between failovers
        involving the same node, or use another pair."""
        reply = replica.call("CLUSTER", "FAILOVER", *mode)
        if reply != "OK":
            raise ClusterSetupError("CLUSTER FAILOVER replied %r" % (reply,))

        def done():
            topo = self.consistent()
            if topo and replica.port not in topo.master_of and \
                    any(m[1] == replica.port for s, e, m, _ in topo.view):
                return topo
            return None
        self._snapshot(self.wait_for(done, timeout, 0.2,
                                     "%r to become master by CLUSTER FAILOVER" % replica))
        return replica

    # -- redis-cli --cluster --
    def cli(self, *args, timeout=60, check=False):
        return run_cli(*args, timeout=timeout, check=check)

    def check(self, node=None, timeout=60):
        """redis-cli --cluster check (result.output, result.returncode)."""
        node = node or self.live_nodes[0]
        return run_cli("--cluster", "check", node.addr, timeout=timeout)

    def reshard(self, src, dst, nslots, timeout=180, via=None):
        """redis-cli --cluster reshard moving nslots slots from src to dst, non-interactive
        (raises ClusterSetupError on a non-zero exit). redis-cli takes the lowest-numbered
        nslots slots of src (clusterManagerComputeReshardTable)."""
        via = via or src
        return run_cli("--cluster", "reshard", via.addr, "--cluster-from", src.node_id,
                       "--cluster-to", dst.node_id, "--cluster-slots", nslots, "--cluster-yes",
                       timeout=timeout, check=True)


# ------------------------------------------------------------------------------------------
# forming clusters

def create_cluster(nodes, replicas=1, timeout=90, cluster=None):
    """`redis-cli --cluster create <nodes> --cluster-replicas N --cluster-yes`, then wait_ok.
    The first len(nodes)//(N+1) nodes become the masters (see the module docstring for the
    rest). Returns the Cluster (a new one over `nodes` unless given)."""
    cluster = cluster if cluster is not None else Cluster(nodes=nodes)
    t0 = time.monotonic()
    res = run_cli("--cluster", "create", *[n.addr for n in nodes], "--cluster-replicas", replicas,
                  "--cluster-yes", timeout=timeout)
    if res.returncode != 0 or "[OK] All 16384 slots covered" not in res.output:
        raise ClusterSetupError("redis-cli --cluster create failed (exit %d):\n%s"
                                % (res.returncode, res.output[-4000:]))
    cluster.create_output = res.output
    nmasters = len(nodes) // (replicas + 1)
    left = max(5.0, timeout - (time.monotonic() - t0))
    cluster.wait_ok(timeout=left, total_replicas=len(nodes) - nmasters)
    _record_initial(cluster)
    return cluster


def create_cluster_manual(masters, replicas_of, timeout=90, cluster=None):
    """Form a cluster with exact roles: `masters` get the slots (redis-cli's even split, in
    order), `replicas_of` maps replica Node -> master Node (a dict or (replica, master) pairs).
    Uses CLUSTER SET-CONFIG-EPOCH, ADDSLOTSRANGE, MEET (with the bus port) and REPLICATE.
    Returns the Cluster (a new one over the nodes unless given)."""
    pairs = list(replicas_of.items()) if isinstance(replicas_of, dict) else list(replicas_of)
    nodes = list(masters) + [r for r, _ in pairs if r not in masters]
    cluster = cluster if cluster is not None else Cluster(nodes=nodes)
    deadline = time.monotonic() + timeout

    def left():
        return max(1.0, deadline - time.monotonic())
    for i, n in enumerate(nodes):
        n.call("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
    for m, (s, e) in zip(masters, split_slots(len(masters))):
        m.call("CLUSTER", "ADDSLOTSRANGE", s, e)
    first = nodes[0]
    for n in nodes[1:]:
        n.call("CLUSTER", "MEET", first.host, first.port, first.cport)
    ids = {n.node_id for n in nodes}

    def all_known():
        for n in nodes:
            known = n.cluster_nodes()
            if {x["id"] for x in known} != ids:
                return False
            if any({"handshake", "noaddr", "fail", "fail?"} & x["flags"] for x in known):
                return False
        return True
    cluster.wait_for(all_known, left(), 0.1, "every node to know every node after CLUSTER MEET")

    for r, m in pairs:
        cluster.wait_for(lambda: r.call("CLUSTER", "REPLICATE", m.node_id) == "OK", left(), 0.2,
                         "CLUSTER REPLICATE of %r to %r" % (r, m))
    cluster.wait_ok(timeout=left(), replica_of=dict(pairs))
    _record_initial(cluster)
    return cluster


def _record_initial(cluster):
    cluster.initial = {
        "masters": list(cluster._slots_snapshot),
        "replica_of": {r: m for m, rs in cluster._replica_snapshot.items() for r in rs},
        "slots": {m: list(v) for m, v in cluster._slots_snapshot.items()},
    }
