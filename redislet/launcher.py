"""redislet.Cluster: a whole Redis Cluster of redislet nodes, each node its own process.

    import redislet
    from redis.cluster import RedisCluster, ClusterNode

    with redislet.Cluster(masters=3, replicas=1) as cluster:
        rc = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in cluster.startup_nodes])
        rc.set("foo", "bar")

Every node is `python -m redislet` (the same interpreter and the same redislet as the caller)
with cluster-enabled yes, its own temporary directory (dir, nodes.conf, server.log) and two
free ports (client port and cluster bus port, found by binding port 0). The cluster is
created as redis-cli --cluster create does, over plain sockets (neither redis-cli nor
redis-py is needed): CLUSTER ADDSLOTSRANGE (16384 slots split evenly over the masters),
CLUSTER SET-CONFIG-EPOCH, CLUSTER MEET, then CLUSTER REPLICATE. start() returns when every
node reports cluster_state:ok, every node maps the slots to the same masters and knows the
same replica -> master pairs, and every replica's link to its master is up.

Teardown (stop(), the end of the `with` block, a failed start, interpreter exit) sends
SIGTERM to each node's process group (a node's forked children - RDB saves, full syncs -
go with it), and SIGKILL after a bound. The nodes also exit by themselves when the process
that started them disappears (REDISLET_PARENT_PID, checked by redislet's CLI every 0.5 s),
so a killed test run leaves no orphan servers. Every wait is bounded.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

NSLOTS = 16384

# directives the launcher sets itself
_RESERVED = ("port", "cluster-port", "cluster-enabled", "cluster-config-file", "dir", "bind")


class ClusterError(RuntimeError):
    """The cluster could not be started or did not converge in time (the message holds
    the state of every node and the tail of their logs)."""


class ReplyError(Exception):
    """An error reply (-ERR ...) from a node."""


# -- a minimal RESP2 client ------------------------------------------------------------

def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Connection:
    """One blocking RESP2 connection. call(*args) returns str / int / None / list;
    error replies raise ReplyError, network trouble OSError."""

    def __init__(self, host, port, timeout=5.0, password=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.sock.makefile("rb")
        if password:
            try:
                self.call("AUTH", password)
            except BaseException:
                self.close()
                raise

    def call(self, *args):
        self.sock.sendall(_encode(args))
        return self._read()

    def _read(self):
        line = self.f.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed by the server")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise ReplyError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            if len(data) != n + 2:
                raise ConnectionError("connection closed by the server")
            return data[:-2].decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError("unexpected reply %r" % line[:40])

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


def parse_info(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def split_slots(n):
    """redis-cli's even split of the 16384 slots over n masters: [(first, last), ...]."""
    per = NSLOTS / n
    ranges, first, cursor = [], 0, 0.0
    for i in range(n):
        last = int(cursor + per - 1 + 0.5)
        if i == n - 1:
            last = NSLOTS - 1
        ranges.append((first, last))
        first = last + 1
        cursor += per
    return ranges


# -- processes -------------------------------------------------------------------------

_LIVE = set()                # every node process started here and not yet reaped
_LIVE_LOCK = threading.Lock()


def _reap_all():
    with _LIVE_LOCK:
        nodes = list(_LIVE)
    for n in nodes:
        n.kill()


atexit.register(_reap_all)


def _free_ports(host, count):
    """count distinct ports that were free on host (bound to port 0 together)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _directive_args(directives):
    args = []
    for k, v in directives.items():
        name = k.replace("_", "-").lower()
        if isinstance(v, bool):
            v = "yes" if v else "no"
        args += ["--" + name, str(v)]
    return args


def _child_env():
    env = dict(os.environ)
    # the nodes run the redislet the caller imported, even from a checkout not installed
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["REDISLET_PARENT_PID"] = str(os.getpid())
    return env


class Node:
    """One node process: host, port, cport (bus port), dir, proc, node_id, master (the Node
    it replicates, None for a master)."""

    def __init__(self, host, port, cport, dirpath, argv):
        self.host = host
        self.port = port
        self.cport = cport
        self.dir = dirpath
        self.argv = argv
        self.proc = None
        self.node_id = None
        self.master = None
        self.password = None      # requirepass, sent with AUTH by call()
        self._log = None

    @property
    def addr(self):
        return (self.host, self.port)

    @property
    def log_path(self):
        return os.path.join(self.dir, "server.log")

    def spawn(self, env):
        self._log = open(self.log_path, "ab")
        kw = {"process_group": 0} if hasattr(os, "killpg") else {}
        self.proc = subprocess.Popen(self.argv, cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, **kw)
        with _LIVE_LOCK:
            _LIVE.add(self)

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def call(self, *args, timeout=5.0):
        """One command on a fresh connection (RESP2; errors raise ReplyError)."""
        c = Connection(self.host, self.port, timeout, self.password)
        try:
            return c.call(*args)
        finally:
            c.close()

    def info(self, section=None):
        return parse_info(self.call("INFO", section) if section else self.call("INFO"))

    def _signal(self, sig):
        try:
            if hasattr(os, "killpg"):
                os.killpg(self.proc.pid, sig)   # the node and any child it forked
            else:                                # pragma: no cover
                self.proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def terminate(self):
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGTERM)

    def kill(self):
        """SIGKILL the process group, reap, close the log."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self._signal(signal.SIGKILL)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:   # pragma: no cover
                    pass
            elif hasattr(os, "killpg"):
                self._signal(signal.SIGKILL)        # a forked child left behind
        self._close()

    def _close(self):
        if self._log is not None:
            self._log.close()
            self._log = None
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - n))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def __repr__(self):
        role = "replica" if self.master is not None else "master"
        return "<redislet %s %s:%d%s>" % (role, self.host, self.port,
                                          "" if self.alive else " (not running)")


# -- the cluster -----------------------------------------------------------------------

class Cluster:
    """A Redis Cluster of `masters` masters with `replicas` replicas each, every node a
    redislet process. Keyword arguments are config directives for every node, with '_'
    for '-' (cluster_node_timeout=2000, appendonly=True...); with requirepass, masterauth
    defaults to the same password.

    startup_nodes: [(host, port), ...] of every node, masters first; nodes: the Node
    objects (masters, then replicas); url: redis://host:port of the first master.
    timeout bounds the whole start (seconds)."""

    def __init__(self, masters=3, replicas=1, host="127.0.0.1", *, timeout=120.0, dir=None,
                 python=None, **directives):
        if masters < 1:
            raise ValueError("a cluster needs at least one master")
        if replicas < 0:
            raise ValueError("replicas must be >= 0")
        bad = [k for k in directives if k.replace("_", "-").lower() in _RESERVED]
        if bad:
            raise ValueError("Cluster sets %s itself" % ", ".join(sorted(bad)))
        self.n_masters = masters
        self.n_replicas = replicas
        self.host = host
        self.timeout = timeout
        self.python = python or sys.executable
        self._user_dir = dir
        self.dir = None
        # cluster-node-timeout 5000 (Redis: 15000): nodes ping each other at least every
        # 2.5 s, so that all of them learn the replicas' roles soon after start; still long
        # enough that a busy machine does not make nodes look failed
        conf = {"save": "", "appendonly": "no", "repl-diskless-sync-delay": "0",
                "cluster-node-timeout": "5000"}
        for k, v in directives.items():
            conf[k.replace("_", "-").lower()] = v
        self.password = conf.get("requirepass") or None
        if self.password:
            conf.setdefault("masterauth", self.password)
        self.directives = conf
        self.nodes = []
        self._started = False

    # -- public view --
    @property
    def masters(self):
        return [n for n in self.nodes if n.master is None]

    @property
    def replicas(self):
        return [n for n in self.nodes if n.master is not None]

    @property
    def startup_nodes(self):
        return [n.addr for n in self.nodes]

    @property
    def url(self):
        n = self.nodes[0]
        return "redis://%s:%d" % (n.host, n.port)

    def client(self, **kwargs):
        """A redis.cluster.RedisCluster on this cluster (needs redis-py)."""
        from redis.cluster import ClusterNode, RedisCluster
        if self.password:
            kwargs.setdefault("password", self.password)
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in self.startup_nodes],
                            **kwargs)

    def flushall(self, timeout=5.0):
        """FLUSHALL on every master, then WAIT until its replicas have it (bounded)."""
        for n in self.nodes:
            try:
                n.call("FLUSHALL", timeout=timeout)
            except ReplyError as e:
                if not str(e).startswith("READONLY"):
                    raise
                continue
            nrep = sum(1 for r in self.nodes if r.master is n)
            if nrep:
                n.call("WAIT", nrep, int(timeout * 1000), timeout=timeout + 1)

    # -- start / stop --
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if self._started:
            return self
        self._started = True
        deadline = time.monotonic() + self.timeout
        try:
            self._spawn_all(deadline)
            self._create(deadline)
            self._wait_consistent(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout=10.0):
        """SIGTERM every node (process group), SIGKILL what is left after `timeout` s,
        remove the temporary directory."""
        for n in self.nodes:
            n.terminate()
        end = time.monotonic() + timeout
        for n in self.nodes:
            if n.proc is not None:
                try:
                    n.proc.wait(max(0.0, end - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            n.kill()
        if self.dir is not None and self._user_dir is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        self._started = False

    # -- internals --
    def _node_argv(self, port, cport, d):
        return ([self.python, "-m", "redislet", "--port", str(port), "--cluster-port", str(cport),
                 "--bind", self.host, "--cluster-enabled", "yes",
                 "--cluster-config-file", "nodes.conf", "--dir", d]
                + _directive_args(self.directives))

    def _spawn_all(self, deadline):
        if self._user_dir is not None:
            os.makedirs(self._user_dir, exist_ok=True)
            self.dir = self._user_dir
        else:
            self.dir = tempfile.mkdtemp(prefix="redislet-cluster-")
        env = _child_env()
        total = self.n_masters * (1 + self.n_replicas)
        ports = _free_ports(self.host, 2 * total)
        for i in range(total):
            port, cport = ports[2 * i], ports[2 * i + 1]
            d = os.path.join(self.dir, "node-%d" % i)
            os.makedirs(d, exist_ok=True)
            node = Node(self.host, port, cport, d, self._node_argv(port, cport, d))
            node.password = self.password
            self.nodes.append(node)
            node.spawn(env)
        # masters first, then replicas: replica j of master i is node masters + j*masters + i
        for k, node in enumerate(self.nodes[self.n_masters:]):
            node.master = self.nodes[k % self.n_masters]
        for i, node in enumerate(self.nodes):
            retries = 0
            while True:
                try:
                    self._wait_ping(node, deadline)
                    break
                except ClusterError:
                    # a port taken by someone else between choosing and binding: new ports
                    if retries < 3 and "in use" in node.log_tail():
                        retries += 1
                        node.kill()
                        node.port, node.cport = _free_ports(self.host, 2)
                        node.argv = self._node_argv(node.port, node.cport, node.dir)
                        node.spawn(env)
                        continue
                    raise

    def _wait_ping(self, node, deadline):
        while True:
            if node.proc.poll() is not None:
                raise ClusterError("redislet node on port %d exited with status %s:\n%s"
                                   % (node.port, node.proc.returncode, node.log_tail()))
            try:
                if node.call("PING", timeout=2) == "PONG":
                    return
            except (OSError, ReplyError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError("redislet node on port %d did not answer PING within "
                                   "%.0f s:\n%s" % (node.port, self.timeout, node.log_tail()))
            time.sleep(0.02)

    def _create(self, deadline):
        first = self.nodes[0]
        for i, node in enumerate(self.nodes):
            node.node_id = node.call("CLUSTER", "MYID")
            node.call("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
        for node, (lo, hi) in zip(self.masters, split_slots(self.n_masters)):
            node.call("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        for node in self.nodes[1:]:
            node.call("CLUSTER", "MEET", first.host, first.port, first.cport)
        ids = {n.node_id for n in self.nodes}
        self._wait(deadline, "every node to know every other node",
                   lambda: all(self._known_ids(n) == ids for n in self.nodes))
        for node in self.replicas:
            self._wait(deadline, "CLUSTER REPLICATE on %s:%d" % node.addr,
                       lambda node=node: node.call("CLUSTER", "REPLICATE",
                                                   node.master.node_id) == "OK")

    @staticmethod
    def _known_ids(node):
        out = set()
        for line in node.call("CLUSTER", "NODES").splitlines():
            f = line.split()
            if len(f) >= 8 and "handshake" not in f[2] and "noaddr" not in f[2]:
                out.add(f[0])
        return out

    def _expected_slots(self):
        return {(lo, hi, m.port) for m, (lo, hi) in zip(self.masters,
                                                          split_slots(self.n_masters))}

    def _consistent(self):
        want_slots = self._expected_slots()
        want_masters = {n.node_id: (n.master.node_id if n.master else None) for n in self.nodes}
        for node in self.nodes:
            info = parse_info(node.call("CLUSTER", "INFO"))
            if info.get("cluster_state") != "ok":
                return False
            slots = {(int(e[0]), int(e[1]), int(e[2][1])) for e in node.call("CLUSTER", "SLOTS")}
            if slots != want_slots:
                return False
            masters = {}
            for line in node.call("CLUSTER", "NODES").splitlines():
                f = line.split()
                if len(f) >= 8:
                    if "fail" in f[2].split(",") or "fail?" in f[2].split(","):
                        return False
                    masters[f[0]] = None if f[3] == "-" else f[3]
            if masters != want_masters:
                return False
        for node in self.replicas:
            info = node.info("replication")
            if info.get("role") != "slave" or info.get("master_link_status") != "up":
                return False
        return True

    def _wait_consistent(self, deadline):
        self._wait(deadline, "cluster_state:ok, the same slot map and replica links up on "
                   "every node", self._consistent)

    def _wait(self, deadline, what, predicate, interval=0.05):
        last = None
        while True:
            for n in self.nodes:
                if n.proc.poll() is not None:
                    raise ClusterError("redislet node on port %d exited with status %s while "
                                       "waiting for %s:\n%s" % (n.port, n.proc.returncode, what,
                                                                n.log_tail()))
            try:
                if predicate():
                    return
            except (OSError, ReplyError) as e:
                last = e
            if time.monotonic() > deadline:
                raise ClusterError("timed out after %.0f s waiting for %s%s\n%s"
                                   % (self.timeout, what,
                                      " (last error: %r)" % last if last else "",
                                      self.describe()))
            time.sleep(interval)

    def describe(self):
        """The state of every node as text (for error messages)."""
        out = []
        for n in self.nodes:
            out.append("--- %r dir=%s" % (n, n.dir))
            try:
                info = parse_info(n.call("CLUSTER", "INFO", timeout=2))
                out.append("cluster_state:%s known_nodes:%s slots_assigned:%s" % (
                    info.get("cluster_state"), info.get("cluster_known_nodes"),
                    info.get("cluster_slots_assigned")))
                out.append(n.call("CLUSTER", "NODES", timeout=2).rstrip())
            except (OSError, ReplyError) as e:
                out.append("(unreachable: %r)" % (e,))
            out.append("log tail:\n" + n.log_tail(800))
        return "\n".join(out)

    def __repr__(self):
        return "<redislet.Cluster %d masters x %d replicas %s>" % (
            self.n_masters, self.n_replicas, self.startup_nodes)


# -- one standalone server process -----------------------------------------------------

class ServerProcess:
    """A standalone redislet as a separate process (`python -m redislet`), with the same
    face as redislet.Server: host, port, url, start()/stop(), a context manager. Use it
    when the server must not share the interpreter (GIL) with the tests, or to test
    restarts. Keyword arguments are config directives ('_' for '-')."""

    def __init__(self, port=0, host="127.0.0.1", *, timeout=60.0, dir=None, python=None,
                 **directives):
        bad = [k for k in directives if k.replace("_", "-").lower() in ("port", "bind", "dir")]
        if bad:
            raise ValueError("pass port/host/dir as arguments, not %s" % ", ".join(bad))
        self.host = host
        self.port = None
        self._requested_port = port
        self.timeout = timeout
        self.python = python or sys.executable
        self._user_dir = dir
        self.dir = None
        conf = {"save": "", "appendonly": "no"}
        for k, v in directives.items():
            conf[k.replace("_", "-").lower()] = v
        self.directives = conf
        self.password = conf.get("requirepass") or None
        self.node = None

    @property
    def url(self):
        return "redis://%s:%d" % (self.host, self.port)

    @property
    def pid(self):
        return self.node.proc.pid if self.node is not None and self.node.proc else None

    def client(self, **kwargs):
        """A redis.Redis (redis-py) connected to this server."""
        import redis
        if self.password:
            kwargs.setdefault("password", self.password)
        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def start(self):
        if self._user_dir is not None:
            os.makedirs(self._user_dir, exist_ok=True)
            self.dir = self._user_dir
        else:
            self.dir = tempfile.mkdtemp(prefix="redislet-")
        env = _child_env()
        deadline = time.monotonic() + self.timeout
        for attempt in range(4):
            port = self._requested_port or _free_ports(self.host, 1)[0]
            argv = ([self.python, "-m", "redislet", "--port", str(port), "--bind", self.host,
                     "--dir", self.dir] + _directive_args(self.directives))
            node = self.node = Node(self.host, port, 0, self.dir, argv)
            node.password = self.password
            node.spawn(env)
            try:
                while True:
                    if node.proc.poll() is not None:
                        raise ClusterError("redislet on port %d exited with status %s:\n%s"
                                           % (port, node.proc.returncode, node.log_tail()))
                    try:
                        reply = node.call("PING", timeout=2)
                        if reply == "PONG":
                            break
                    except ReplyError as e:         # requirepass: -NOAUTH, still up
                        if str(e).startswith("NOAUTH"):
                            break
                    except OSError:
                        pass
                    if time.monotonic() > deadline:
                        raise ClusterError("redislet on port %d did not answer PING within "
                                           "%.0f s:\n%s" % (port, self.timeout, node.log_tail()))
                    time.sleep(0.01)
            except BaseException:
                retry = (not self._requested_port and attempt < 3
                         and "in use" in node.log_tail())
                node.kill()
                if retry:
                    continue
                self._remove_dir()
                raise
            self.port = port
            return self

    def stop(self, timeout=10.0):
        node = self.node
        if node is not None:
            node.terminate()
            if node.proc is not None:
                try:
                    node.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            node.kill()
            self.node = None
        self._remove_dir()

    def _remove_dir(self):
        if self.dir is not None and self._user_dir is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return "<redislet.ServerProcess %s:%s>" % (self.host, self.port)
