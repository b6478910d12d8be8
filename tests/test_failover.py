"""FAILOVER (replication.c failoverCommand and its state machine) with redislet and real
Redis 7.0.15 on either side: argument and state errors, failover to a given replica and
to any replica, TIMEOUT (abort) and FORCE, FAILOVER ABORT, a target that refuses the
PSYNC, the write pause (writes wait, then get READONLY or run), INFO's
master_failover_state; and the lazy-expiry rule of client pauses."""
import os
import signal
import socket
import time

import pytest
import redis

from conftest import Raw, encode_command, start_real_redis, start_redislet

FAST = ("--repl-diskless-sync-delay", "0")
READONLY = b"-READONLY You can't write against a read only replica.\r\n"


# -- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def servers(tmp_path):
    started = []

    def make(kind, *args):
        d = tmp_path / ("s%d" % len(started))
        d.mkdir()
        s = (start_real_redis if kind == "redis" else start_redislet)(d, *FAST, *args)
        started.append(s)
        return s
    yield make
    for s in reversed(started):
        if s.proc.poll() is None:
            os.kill(s.proc.pid, signal.SIGCONT)
        s.stop()


def info(s, section="replication"):
    conn = Raw(s.port)
    try:
        text = conn.cmd("INFO", section)
    finally:
        conn.close()
    out = {}
    for line in text.decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def cmd(s, *args):
    conn = Raw(s.port)
    try:
        return conn.cmd(*args)
    finally:
        conn.close()


def wait_for(cond, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if cond():
                return
        except (OSError, redis.ConnectionError):
            pass
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def wait_synced(master, *replicas):
    def ok():
        mi = info(master)
        mo = int(mi["master_repl_offset"])
        online = [v for k, v in mi.items() if k.startswith("slave") and "state=online" in v]
        if len(online) < len(replicas):
            return False
        for r in replicas:
            ri = info(r)
            if ri.get("master_link_status") != "up" or int(ri["slave_repl_offset"]) < mo:
                return False
        return True
    wait_for(ok, what="replicas in sync")


def replicate(master, *replicas):
    for r in replicas:
        assert cmd(r, "REPLICAOF", "127.0.0.1", str(master.port)) == b"+OK\r\n"
    wait_synced(master, *replicas)


def state(s):
    return info(s)["master_failover_state"]


def role(s):
    return info(s)["role"]


def dataset(s):
    c = redis.Redis(port=s.port)
    try:
        return {k: c.dump(k) for k in c.keys("*")}
    finally:
        c.close()


def log_text(s):
    with open(os.path.join(s.cwd, "server.log"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def stop(s):
    os.kill(s.proc.pid, signal.SIGSTOP)


def cont(s):
    os.kill(s.proc.pid, signal.SIGCONT)


def pending_write(s, *args):
    """Send a write on a new connection without reading: it waits while writes are paused."""
    conn = Raw(s.port, timeout=20)
    conn.send(encode_command(args))
    return conn


def no_reply_yet(conn, wait=0.3):
    conn.sock.settimeout(wait)
    try:
        data = conn.sock.recv(100)
    except socket.timeout:
        return True
    finally:
        conn.sock.settimeout(20)
    conn.buf += data
    return False


def sync_stats(s):
    i = info(s, "stats")
    return int(i["sync_full"]), int(i["sync_partial_ok"])


# -- arguments and errors -------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("FAILOVER",),
    ("failover", "abort"),
    ("FAILOVER", "ABORT", "x"),
    ("FAILOVER", "foo"),
    ("FAILOVER", "TO"),
    ("FAILOVER", "TO", "127.0.0.1"),
    ("FAILOVER", "TO", "127.0.0.1", "x"),
    ("FAILOVER", "TO", "127.0.0.1", "6379", "TO", "127.0.0.1", "6380"),
    ("FAILOVER", "TIMEOUT"),
    ("FAILOVER", "TIMEOUT", "x"),
    ("FAILOVER", "TIMEOUT", "0"),
    ("FAILOVER", "TIMEOUT", "-5"),
    ("FAILOVER", "TIMEOUT", "10", "TIMEOUT", "10"),
    ("FAILOVER", "TIMEOUT", "99999999999999999999"),
    ("FAILOVER", "FORCE"),
    ("FAILOVER", "FORCE", "FORCE"),
    ("FAILOVER", "FORCE", "TIMEOUT", "100"),
    ("FAILOVER", "TO", "127.0.0.1", "6379", "FORCE", "TIMEOUT", "100"),
    ("FAILOVER", "ABORT", "TIMEOUT", "10"),
    ("FAILOVER", "TIMEOUT", "10", "ABORT"),
])
def test_errors_without_replicas(both, args):
    both(*args)
    both.resp3()
    both(*args)


def test_info_field_on_a_plain_master(both):
    for conn in (both.a, both.b):
        assert b"master_failover_state:no-failover\r\n" in conn.cmd("INFO", "replication")


def _error_script(servers, mkind, rkind):
    """The replies of one sequence of FAILOVER errors, on a master with one replica."""
    m = servers(mkind)
    r = servers(rkind)
    replicate(m, r)
    rp = str(r.port)
    out = []
    for args in [
        ("FAILOVER", "TO", "10.1.2.3", rp),
        ("FAILOVER", "TO", "127.0.0.1", str(r.port + 1)),
        ("FAILOVER", "TO", "127.0.0.1", rp, "FORCE"),
        ("FAILOVER", "FORCE", "TIMEOUT", "100"),
        ("FAILOVER", "TO", "127.0.0.1", "x"),
        ("FAILOVER", "TIMEOUT", "0"),
        ("FAILOVER", "ABORT"),
        ("PSYNC", "0" * 40, "1", "FAILOVER"),
    ]:
        out.append(("master", args[:2], cmd(m, *args)))
    for args in [
        ("FAILOVER",),
        ("FAILOVER", "TO", "127.0.0.1", str(m.port)),
        ("FAILOVER", "ABORT"),
        ("PSYNC", "0" * 40, "1", "FAILOVER"),
        ("psync", "?", "-1", "failover"),
    ]:
        out.append(("replica", args[:2], cmd(r, *args)))
    # a failover that waits: the replica is stopped and behind
    stop(r)
    try:
        assert cmd(m, "SET", "k", "v") == b"+OK\r\n"
        out.append(cmd(m, "FAILOVER", "TO", "127.0.0.1", rp, "TIMEOUT", "60000"))
        out.append(state(m))
        for args in [
            ("FAILOVER",),
            ("FAILOVER", "TO", "127.0.0.1", rp),
            ("FAILOVER", "TIMEOUT", "x"),          # argument errors come first
            ("REPLICAOF", "NO", "ONE"),
            ("REPLICAOF", "127.0.0.1", "1"),
            ("PSYNC", "?", "-1"),
            ("SYNC",),
            ("GET", "k"),                          # reads run
            ("CLIENT", "UNPAUSE"),                 # does not end the failover's pause
        ]:
            out.append((args[:2], cmd(m, *args)))
        w = pending_write(m, "SET", "k", "v2")
        out.append(("write waits", no_reply_yet(w)))
        out.append(cmd(m, "FAILOVER", "ABORT"))
        out.append(w.read_reply())
        w.close()
        out.append(state(m))
        out.append(cmd(m, "FAILOVER", "ABORT"))
        out.append(role(m))
    finally:
        cont(r)
    return out


@pytest.mark.parametrize("kinds", [("redislet", "redislet"), ("redislet", "redis"),
                                   ("redis", "redislet")])
def test_errors_with_a_replica_match_redis(servers, kinds):
    expected = _error_script(servers, "redis", "redis")
    assert _error_script(servers, *kinds) == expected


# -- failing over --------------------------------------------------------------------------------
@pytest.mark.parametrize("kinds", [("redislet", "redislet"), ("redislet", "redis"),
                                   ("redis", "redislet")])
def test_failover_to_a_replica(servers, kinds):
    m = servers(kinds[0])
    r = servers(kinds[1])
    replicate(m, r)
    mc = redis.Redis(port=m.port)
    for i in range(200):
        mc.set("k%d" % i, i)
    mc.rpush("list", *range(50))
    mc.set("ttl", "x", ex=1000)
    wait_synced(m, r)
    full0, partial0 = sync_stats(r)
    stop(r)                     # the replica falls behind: the failover has to wait
    try:
        mc.set("late", "write")
        assert cmd(m, "FAILOVER", "TO", "127.0.0.1", str(r.port)) == b"+OK\r\n"
        assert state(m) == "waiting-for-sync"
        w = pending_write(m, "INCR", "counter")
        assert no_reply_yet(w)
        assert cmd(m, "GET", "late") == b"$5\r\nwrite\r\n"
    finally:
        cont(r)
    wait_for(lambda: state(m) == "no-failover", what="the failover to end")
    # the write that waited runs once the failover is over: on a replica now
    assert w.read_reply() == READONLY
    w.close()
    assert role(m) == "slave" and role(r) == "master"
    wait_for(lambda: info(m)["master_link_status"] == "up", what="old master linked")
    assert info(m)["master_port"] == str(r.port)
    assert sync_stats(r) == (full0, partial0 + 1)     # the old master continued with PSYNC
    # the new master's writes reach the old one
    assert cmd(r, "SET", "after", "failover") == b"+OK\r\n"
    wait_synced(r, m)
    assert dataset(m) == dataset(r)
    assert cmd(m, "GET", "after") == b"$8\r\nfailover\r\n"
    assert "Failover target 127.0.0.1:%d is synced, failing over." % r.port in (
        log_text(m))


@pytest.mark.parametrize("kinds", [("redislet", "redislet", "redislet"),
                                   ("redislet", "redis", "redislet")])
def test_failover_to_any_replica(servers, kinds):
    m = servers(kinds[0])
    r1 = servers(kinds[1])
    r2 = servers(kinds[2])
    replicate(m, r1, r2)
    stop(r1)                    # only r2 can catch up
    try:
        assert cmd(m, "SET", "case", "1") == b"+OK\r\n"
        assert cmd(m, "FAILOVER") == b"+OK\r\n"
        wait_for(lambda: state(m) == "no-failover", what="the failover to end")
        assert role(m) == "slave" and role(r2) == "master"
        assert info(m)["master_port"] == str(r2.port)
    finally:
        cont(r1)
    # r1 was replica of the old master, which became a replica itself: r1 follows the chain
    assert cmd(r1, "REPLICAOF", "127.0.0.1", str(r2.port)) == b"+OK\r\n"
    wait_synced(r2, m, r1)
    assert dataset(m) == dataset(r1) == dataset(r2)
    assert cmd(r2, "GET", "case") == b"$1\r\n1\r\n"


@pytest.mark.parametrize("mkind", ["redislet", "redis"])
def test_timeout_aborts_when_the_replica_never_catches_up(servers, mkind):
    m = servers(mkind)
    r = servers("redislet")
    replicate(m, r)
    stop(r)
    try:
        cmd(m, "SET", "case", "1")
        w = pending_write(m, "SET", "during", "pause")
        assert cmd(m, "FAILOVER", "TO", "127.0.0.1", str(r.port), "TIMEOUT", "300") == (
            b"+OK\r\n")
        w2 = pending_write(m, "SET", "during2", "pause")
        assert no_reply_yet(w2, 0.1)
        wait_for(lambda: state(m) == "no-failover", timeout=5, what="the timeout")
        assert w.read_reply() == b"+OK\r\n"
        assert w2.read_reply() == b"+OK\r\n"      # writes resume after the abort
        w.close()
        w2.close()
        assert role(m) == "master"
    finally:
        cont(r)
    wait_synced(m, r)
    assert dataset(m) == dataset(r)
    assert ("FAILOVER to 127.0.0.1:%d aborted: Replica never caught up before timeout"
            % r.port) in log_text(m)


@pytest.mark.parametrize("kinds", [("redislet", "redislet"), ("redislet", "redis"),
                                   ("redis", "redislet")])
def test_force_fails_over_after_the_timeout(servers, kinds):
    m = servers(kinds[0])
    r = servers(kinds[1])
    replicate(m, r)
    stop(r)
    try:
        cmd(m, "SET", "case", "2")       # never acknowledged before the timeout
        assert cmd(m, "FAILOVER", "TO", "127.0.0.1", str(r.port), "TIMEOUT", "100",
                   "FORCE") == b"+OK\r\n"
        wait_for(lambda: state(m) == "failover-in-progress", timeout=5,
                 what="the forced failover")
        assert role(m) == "slave"        # never two masters
        assert cmd(m, "FAILOVER", "ABORT") is not None
    finally:
        cont(r)
    # (the ABORT above, sent while in progress, made m a master again: start over)
    wait_for(lambda: state(m) == "no-failover", what="the abort")
    assert role(m) == "master"
    wait_synced(m, r)
    stop(r)
    try:
        cmd(m, "SET", "case", "3")
        assert cmd(m, "FAILOVER", "TO", "127.0.0.1", str(r.port), "TIMEOUT", "100",
                   "FORCE") == b"+OK\r\n"
        wait_for(lambda: state(m) == "failover-in-progress", timeout=5,
                 what="the forced failover")
    finally:
        cont(r)
    wait_for(lambda: state(m) == "no-failover", what="the failover to end")
    assert role(m) == "slave" and role(r) == "master"
    wait_synced(r, m)
    assert dataset(m) == dataset(r)
    assert "time out exceeded, failing over." in log_text(m)


@pytest.mark.parametrize("kinds", [("redislet", "redislet"), ("redislet", "redis")])
def test_target_rejecting_psync_aborts(servers, kinds):
    m = servers(kinds[0])
    r = servers(kinds[1])
    replicate(m, r)
    assert cmd(r, "ACL", "SETUSER", "default", "-psync") == b"+OK\r\n"
    stop(r)
    try:
        cmd(m, "SET", "foo", "bar")
        assert cmd(m, "FAILOVER", "TO", "127.0.0.1", str(r.port)) == b"+OK\r\n"
        w = pending_write(m, "SET", "waiting", "write")
        assert no_reply_yet(w)
    finally:
        cont(r)
    wait_for(lambda: state(m) == "no-failover", what="the failover to end")
    assert w.read_reply() == b"+OK\r\n"
    w.close()
    assert role(m) == "master"
    assert log_text(m).count("Failover target rejected psync request") == 1
    assert cmd(r, "ACL", "SETUSER", "default", "+psync") == b"+OK\r\n"
    wait_synced(m, r)
    assert dataset(m) == dataset(r)


def test_abort_in_progress_makes_a_master_again(servers):
    m = servers("redislet")
    r = servers("redislet")
    replicate(m, r)
    stop(r)                 # PSYNC FAILOVER gets no answer: in progress until aborted
    try:
        cmd(m, "SET", "x", "1")
        assert cmd(m, "FAILOVER", "TO", "127.0.0.1", str(r.port), "TIMEOUT", "50",
                   "FORCE") == b"+OK\r\n"
        wait_for(lambda: state(m) == "failover-in-progress", timeout=5, what="in progress")
        assert cmd(m, "REPLICAOF", "NO", "ONE") == (
            b"-ERR REPLICAOF not allowed while failing over.\r\n")
        assert cmd(m, "FAILOVER", "ABORT") == b"+OK\r\n"
        assert state(m) == "no-failover"
        assert role(m) == "master"
        assert cmd(m, "SET", "y", "2") == b"+OK\r\n"
    finally:
        cont(r)
    wait_synced(m, r)
    assert "FAILOVER to 127.0.0.1:%d aborted: Failover manually aborted" % r.port in (
        log_text(m))


# -- pauses keep the dataset constant -------------------------------------------------------------
def test_expired_keys_stay_while_writes_are_paused(both):
    both("SET", "k", "v", "PX", "150")
    both("CLIENT", "PAUSE", "2000", "WRITE")
    time.sleep(0.3)
    try:
        both("GET", "k")          # logically expired...
        both("DBSIZE")            # ...but not deleted while paused
        both("EXISTS", "k")
        both("TTL", "k")
    finally:
        both("CLIENT", "UNPAUSE")
    both("GET", "k")
    both("DBSIZE")
