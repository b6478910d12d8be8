"""Sentinel mode (redislet/sentinel): `python -m redislet sentinel.conf --sentinel` processes
monitoring redislet servers, failing over with redis-py's redis.sentinel.Sentinel finding
the new master and no WAIT-acknowledged write lost; a mixed quorum of real Redis 7.0.15
sentinels (`redis-server --sentinel`) and redislet sentinels failing over together; the
SENTINEL subcommands' replies compared byte for byte with a real sentinel where they are
deterministic. Short down-after-milliseconds / failover-timeout keep the file fast."""
import os
import signal
import subprocess
import sys
import time

import pytest
import redis
import redis.sentinel

from conftest import (REDIS_SERVER, ROOT, Raw, free_port, parse_reply, start_real_redis,
                      start_redislet, wait_ready)

FAST = ("--repl-diskless-sync-delay", "0")


class SentinelProcess:
    def __init__(self, kind, d, port, lines):
        self.port = port
        self.dir = str(d)
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\n" % (port, self.dir))
            for ln in lines:
                f.write(ln + "\n")
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        if kind == "redis":
            argv = [REDIS_SERVER, self.conf, "--sentinel"]
        else:
            argv = [sys.executable, "-m", "redislet", self.conf, "--sentinel"]
        self.log = open(os.path.join(self.dir, "sentinel.log"), "wb")
        self.proc = subprocess.Popen(argv, cwd=self.dir, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        wait_ready(port, self.proc)

    def client(self):
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def procs(tmp_path):
    started = []

    def server(kind, *args):
        d = tmp_path / ("srv%d" % len(started))
        d.mkdir()
        if kind == "redis":
            s = start_real_redis(d, *FAST, *args)
        else:
            s = start_redislet(d, *FAST, *args)
        started.append(s)
        return s

    def sentinel(kind, lines):
        if kind == "redis" and REDIS_SERVER is None:
            pytest.skip("Debian's redis-server is not installed")
        d = tmp_path / ("sen%d" % len(started))
        d.mkdir()
        s = SentinelProcess(kind, d, free_port(), lines)
        started.append(s)
        return s
    yield server, sentinel
    for s in reversed(started):
        try:
            s.stop()
        except Exception:
            pass


def wait_for(cond, timeout=20, what="condition", interval=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if cond():
                return
        except (redis.RedisError, OSError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (%s)" % (what, last))


def monitor_lines(port, quorum=2):
    return ["sentinel monitor mym 127.0.0.1 %d %d" % (port, quorum),
            "sentinel down-after-milliseconds mym 1000",
            "sentinel failover-timeout mym 6000",
            "sentinel parallel-syncs mym 2"]


def setup_group(server, sentinel, kinds, server_kind="redislet", quorum=2):
    master = server(server_kind)
    replicas = [server(server_kind, "--replicaof", "127.0.0.1", str(master.port))
                for _ in range(2)]
    m = redis.Redis(port=master.port)
    wait_for(lambda: m.info("replication")["connected_slaves"] == 2, what="replicas online")
    sentinels = [sentinel(k, monitor_lines(master.port, quorum)) for k in kinds]
    for s in sentinels:
        # slow test machines: do not let a scheduling hiccup keep TILT on for 30 s
        s.client().execute_command("SENTINEL", "DEBUG", "tilt-period", "3000")
    for s in sentinels:
        wait_for(lambda: _field(s, "num-slaves") == 2
                 and _field(s, "num-other-sentinels") == len(sentinels) - 1,
                 timeout=30, what="sentinel discovery on %d" % s.port)
    return master, replicas, sentinels


def _field(s, name):
    conn = Raw(s.port)
    try:
        r = parse_reply(conn.cmd("SENTINEL", "MASTER", "mym"))[0]
    finally:
        conn.close()
    return int(r[r.index(name.encode()) + 1])


def test_failover_with_redislet_sentinels(procs):
    server, sentinel = procs
    master, replicas, sentinels = setup_group(server, sentinel, ["redislet"] * 3)
    m = redis.Redis(port=master.port)
    acked = []
    for i in range(200):
        m.set("k%d" % i, i)
        if i % 20 == 19:
            if m.execute_command("WAIT", 2, 2000) == 2:
                acked.extend(range(i - 19, i + 1))
    assert acked, "no write was acknowledged by the replicas"
    old = ("127.0.0.1", master.port)
    t0 = time.time()
    os.kill(master.proc.pid, signal.SIGKILL)
    master.proc.wait()
    sn = redis.sentinel.Sentinel([("127.0.0.1", s.port) for s in sentinels],
                                 socket_timeout=1)
    new = [None]

    def switched():
        try:
            addr = sn.discover_master("mym")
        except redis.sentinel.MasterNotFoundError:
            return False
        if addr != old:
            new[0] = addr
            return True
        return False
    wait_for(switched, timeout=30, what="the new master")
    elapsed = time.time() - t0
    assert elapsed < 20, elapsed
    assert new[0][1] in [r.port for r in replicas]
    nm = redis.Redis(host=new[0][0], port=new[0][1])
    wait_for(lambda: nm.info("replication")["role"] == "master", what="promotion")
    lost = [i for i in acked if nm.get("k%d" % i) != str(i).encode()]
    assert not lost, "WAIT-acknowledged writes lost: %r" % lost[:10]
    # every sentinel agrees, and the other replica follows the new master
    for s in sentinels:
        c = s.client()
        wait_for(lambda: c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mym")
                 == ["127.0.0.1", str(new[0][1])], what="agreement")
    other = [r for r in replicas if r.port != new[0][1]][0]
    oc = redis.Redis(port=other.port)
    wait_for(lambda: oc.info("replication").get("master_port") == new[0][1],
             timeout=20, what="replica reconfigured")
    # the config file keeps the new state (sentinel.conf rewrite)
    conf = open(sentinels[0].conf).read()
    assert "sentinel monitor mym 127.0.0.1 %d 2" % new[0][1] in conf
    assert "sentinel current-epoch 1" in conf or "sentinel current-epoch 2" in conf
    assert "sentinel known-sentinel mym" in conf and "sentinel myid " in conf


def test_mixed_quorum_failover(procs):
    if REDIS_SERVER is None:
        pytest.skip("Debian's redis-server is not installed")
    server, sentinel = procs
    master, replicas, sentinels = setup_group(
        server, sentinel, ["redis", "redislet", "redislet"], server_kind="redis")
    # the pub/sub events of a redislet sentinel, as Redis publishes them
    ps = sentinels[1].client().pubsub()
    ps.subscribe("+switch-master", "+odown", "+sdown")
    ps.get_message(timeout=1)
    os.kill(master.proc.pid, signal.SIGKILL)
    master.proc.wait()
    addrs = {}

    def agreed():
        for s in sentinels:
            addrs[s.port] = tuple(s.client().execute_command(
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mym"))
        vals = set(addrs.values())
        return len(vals) == 1 and int(list(vals)[0][1]) != master.port
    wait_for(agreed, timeout=30, what="all sentinels on the new master")
    epochs = {_field(s, "config-epoch") for s in sentinels}
    assert len(epochs) == 1 and epochs.pop() >= 1
    msgs = []
    deadline = time.time() + 5
    while time.time() < deadline:
        msg = ps.get_message(timeout=0.5)
        if msg and msg["type"] == "message":
            msgs.append((msg["channel"], msg["data"]))
            if msg["channel"] == "+switch-master":
                break
    newport = int(list(addrs.values())[0][1])
    assert ("+sdown", "master mym 127.0.0.1 %d" % master.port) in msgs
    assert ("+switch-master", "mym 127.0.0.1 %d 127.0.0.1 %d" % (master.port, newport)) in msgs


# -- replies compared with a real sentinel -------------------------------------------------------
DETERMINISTIC = [
    ("PING",),
    ("SENTINEL", "HELP"),
    ("SENTINEL", "NOSUCH"),
    ("SENTINEL", "MASTER"),
    ("SENTINEL", "MASTER", "nosuch"),
    ("SENTINEL", "REPLICAS", "nosuch"),
    ("SENTINEL", "SENTINELS", "nosuch"),
    ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"),
    ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mym"),
    ("SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "abc"),
    ("SENTINEL", "MONITOR", "x", "127.0.0.1", "abc", "1"),
    ("SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "0"),
    ("SENTINEL", "MONITOR", "x", "not-an-ip", "1", "1"),
    ("SENTINEL", "MONITOR", "mym", "127.0.0.1", "1", "1"),
    ("SENTINEL", "MONITOR", "x", "127.0.0.1", "70000", "1"),
    ("SENTINEL", "SET", "mym", "quorum", "0"),
    ("SENTINEL", "SET", "mym", "nosuch", "1"),
    ("SENTINEL", "SET", "mym", "notification-script", "/bin/true"),
    ("SENTINEL", "SET", "mym", "down-after-milliseconds", "abc"),
    ("SENTINEL", "SET", "nosuch", "quorum", "1"),
    ("SENTINEL", "SET", "mym", "quorum", "2", "parallel-syncs", "3"),
    ("SENTINEL", "SET", "mym", "rename-command", "CONFIG", ""),
    ("SENTINEL", "CONFIG", "GET", "*"),
    ("SENTINEL", "CONFIG", "GET", "announce-*"),
    ("SENTINEL", "CONFIG", "SET", "nosuch", "1"),
    ("SENTINEL", "CONFIG", "SET", "announce-port", "70000"),
    ("SENTINEL", "CONFIG", "SET", "resolve-hostnames", "maybe"),
    ("SENTINEL", "CONFIG", "FOO"),
    ("SENTINEL", "DEBUG"),
    ("SENTINEL", "DEBUG", "nosuch", "1"),
    ("SENTINEL", "DEBUG", "info-period", "0"),
    ("SENTINEL", "SIMULATE-FAILURE", "HELP"),
    ("SENTINEL", "SIMULATE-FAILURE", "nosuch"),
    ("SENTINEL", "CKQUORUM", "mym"),
    ("SENTINEL", "CKQUORUM", "nosuch"),
    ("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"),
    ("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "x", "0", "*"),
    ("SENTINEL", "PENDING-SCRIPTS"),
    ("SENTINEL", "FAILOVER", "nosuch"),
    ("SENTINEL", "FAILOVER", "mym"),
    ("SENTINEL", "INFO-CACHE", "nosuch"),
    ("SENTINEL", "RESET", "nomatch*"),
    ("SENTINEL", "REMOVE", "nosuch"),
    ("PUBLISH", "chan", "msg"),
    ("ROLE",),
    ("GET", "k"),
    ("CONFIG", "GET", "port"),
    ("COMMAND", "COUNT"),
    ("COMMAND", "INFO", "sentinel|myid", "ping", "info", "subscribe"),
    ("CLIENT", "NO-EVICT", "on"),
    ("ACL", "WHOAMI"),
    ("HELLO", "3", "SETNAME"),
]


def test_replies_match_real_sentinel(procs, tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("Debian's redis-server is not installed")
    server, sentinel = procs
    dead = free_port()       # a master nobody listens on: no discovery, no failover
    lines = ["sentinel monitor mym 127.0.0.1 %d 2" % dead,
             "sentinel down-after-milliseconds mym 60000"]
    real = sentinel("redis", lines)
    mine = sentinel("redislet", lines)
    rr, mr = Raw(real.port), Raw(mine.port)
    try:
        for args in DETERMINISTIC:
            a, b = rr.cmd(*args), mr.cmd(*args)
            assert b == a, "%r:\n redis:    %r\n redislet: %r" % (args, a, b)
        # INFO sentinel: same fields (values differ in run ids / times)
        keys = lambda t: [ln.split(":")[0] for ln in  # noqa: E731
                          t.split(b"\r\n", 1)[1].decode().split("\r\n")]
        for section in ("sentinel", "server", ""):
            a = rr.cmd(*(("INFO", section) if section else ("INFO",)))
            b = mr.cmd(*(("INFO", section) if section else ("INFO",)))
            ka, kb = keys(a), keys(b)
            if section == "server":
                # (redislet's own redislet_compiled closes the section)
                ours = [k for k in kb if k]
                assert [k for k in ka if k] == ours[:-1] and ours[-1] == "redislet_compiled"
            else:
                assert [k for k in ka if k.startswith("#") or k.startswith("sentinel")
                        or k.startswith("master0")] == \
                       [k for k in kb if k.startswith("#") or k.startswith("sentinel")
                        or k.startswith("master0")]
        # SENTINEL MASTER: same fields in the same order
        fa = parse_reply(rr.cmd("SENTINEL", "MASTER", "mym"))[0]
        fb = parse_reply(mr.cmd("SENTINEL", "MASTER", "mym"))[0]
        assert fa[0::2] == fb[0::2]
    finally:
        rr.close()
        mr.close()
    # the rewritten config files carry the same sentinel lines (ids aside)
    real.stop()
    mine.stop()

    def sentinel_lines(path):
        out = []
        for ln in open(path).read().splitlines():
            if ln.startswith("sentinel ") and not ln.startswith("sentinel myid"):
                out.append(ln)
        return out
    assert sentinel_lines(real.conf) == sentinel_lines(mine.conf)


def test_sentinel_start_errors(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    conf = tmp_path / "bad.conf"
    conf.write_text("port %d\nsentinel monitor m 127.0.0.1 6379 0\n" % free_port())
    p = subprocess.run([sys.executable, "-m", "redislet", str(conf), "--sentinel"],
                       capture_output=True, env=env, timeout=30)
    assert p.returncode == 1
    assert b">>> 'sentinel monitor m 127.0.0.1 6379 0'\nQuorum must be 1 or greater.\n" in \
        p.stderr
    p = subprocess.run([sys.executable, "-m", "redislet", "--sentinel"],
                       capture_output=True, env=env, timeout=30)
    assert p.returncode == 1
    assert b"Sentinel needs config file on disk to save state. Exiting..." in p.stdout
