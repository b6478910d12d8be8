"""The collector's policy (redislet/gcpolicy.py) freezes whatever outlives a cron tick, so
a reference cycle among long-lived objects would never be freed. These tests run
workloads that build such objects, let them be frozen, drop them, and then read what
REDISLET_GC_AUDIT found when the server shut down: a collection of everything, frozen or
not, must find nothing unreachable."""
import os
import socket
import subprocess
import sys
import time

import pytest
import redis

from conftest import ROOT, free_port, start_redislet, wait_ready

FROZEN = 0.35     # past a cron tick (100 ms at hz 10) plus the tick's own interval


@pytest.fixture
def audited(tmp_path, monkeypatch):
    """start(*args): a redislet whose audit goes to start.path; stopped at the end
    whatever happens."""
    path = str(tmp_path / "gc-audit.txt")
    monkeypatch.setenv("REDISLET_GC_AUDIT", path)
    started = []

    def start(*args):
        s = start_redislet(tmp_path, *args)
        started.append(s)
        return s
    start.path = path
    yield start
    for s in started:
        s.stop()


def _finish(srv, path):
    """Shut the server down and return what its audit found."""
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"SHUTDOWN NOSAVE\r\n")
        assert s.recv(64) == b""          # (the server closes the connection)
    srv.proc.wait(10)
    srv.stop()
    with open(path) as f:
        return f.read()


def _clean(report):
    assert report.startswith("pid ") and " 0 unreachable\n" in report, report


def test_streams_groups_leave_no_cycles(audited):
    srv = audited()
    path = audited.path
    r = redis.Redis(port=srv.port)
    for key in (b"s1", b"s2", b"s3", b"s4"):
        for i in range(20):
            r.xadd(key, {"f": i})
        r.xgroup_create(key, "g", id="0")
        r.xgroup_create(key, "g2", id="0")
        r.xreadgroup("g", "alice", {key: ">"}, count=10)
        r.xreadgroup("g", "bob", {key: ">"}, count=5)
        r.xreadgroup("g2", "carol", {key: ">"})
    r.xclaim(b"s1", "g", "bob", 0, [r.xpending_range(b"s1", "g", "-", "+", 1)[0]["message_id"]])
    r.xautoclaim(b"s1", "g", "dave", 0, "0-0", count=3)
    time.sleep(FROZEN)
    r.delete(b"s1")                                 # the stream with its groups
    r.xgroup_destroy(b"s2", "g")                    # one group
    assert r.xgroup_delconsumer(b"s3", "g", "alice") == 10    # one consumer
    r.set(b"s4", b"overwritten")                    # replaced by another value
    r.flushall()
    time.sleep(FROZEN)
    _clean(_finish(srv, path))


def test_scripts_functions_and_clients_leave_no_cycles(audited):
    srv = audited()
    path = audited.path
    r = redis.Redis(port=srv.port)
    lib = "#!lua name=%s\nredis.register_function('%s', function(keys, args) return 1 end)"
    r.function_load(lib % ("l1", "f1"))
    r.function_load(lib % ("l2", "f2"))
    r.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, "k", "v")
    # clients in every state that keeps objects: subscribed, blocked, tracking, MULTI
    subs = redis.Redis(port=srv.port).pubsub()
    subs.subscribe("ch")
    subs.psubscribe("p*")
    subs.get_message(timeout=1)
    blocked = socket.create_connection(("127.0.0.1", srv.port))
    blocked.sendall(b"*3\r\n$5\r\nBLPOP\r\n$2\r\nbl\r\n$1\r\n0\r\n")
    tracked = redis.Redis(port=srv.port, protocol=3)
    tracked.execute_command("CLIENT", "TRACKING", "ON")
    tracked.get("k")
    multi = socket.create_connection(("127.0.0.1", srv.port))
    multi.sendall(b"*2\r\n$5\r\nWATCH\r\n$1\r\nk\r\n*1\r\n$5\r\nMULTI\r\n")
    time.sleep(FROZEN)
    r.function_load(lib % ("l1", "f1b"), replace=True)
    r.function_delete("l2")
    r.function_flush()
    r.script_flush()
    subs.close()
    blocked.close()
    tracked.close()
    multi.close()
    r.set("k", "v2")              # the tracking client's key: invalidated, then gone
    time.sleep(FROZEN)
    _clean(_finish(srv, path))


def test_replica_link_leaves_no_cycles(tmp_path, audited):
    srv = audited("--repl-diskless-sync-delay", "0")
    path = audited.path
    r = redis.Redis(port=srv.port)
    r.set("a", "1")
    port = free_port()
    replica = subprocess.Popen(
        [sys.executable, "-m", "redislet", "--port", str(port), "--save", "",
         "--bind", "127.0.0.1", "--replicaof", "127.0.0.1", str(srv.port)],
        cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONPATH=ROOT, REDISLET_GC_AUDIT=""))
    try:
        wait_ready(port, replica)
        rr = redis.Redis(port=port)
        deadline = time.time() + 10
        while rr.get("a") != b"1" and time.time() < deadline:
            time.sleep(0.05)
        assert rr.get("a") == b"1"
        r.set("b", "2")
        assert r.wait(1, 5000) == 1
        time.sleep(FROZEN)
    finally:
        replica.terminate()
        replica.wait(10)
    deadline = time.time() + 10
    while r.info("replication")["connected_slaves"] and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(FROZEN)
    _clean(_finish(srv, path))


def test_python_schedule_still_serves(monkeypatch, audited):
    """REDISLET_GC=python: CPython's own schedule (nothing frozen but a load's objects,
    which go to the oldest generation instead)."""
    monkeypatch.setenv("REDISLET_GC", "python")
    srv = audited()
    path = audited.path
    r = redis.Redis(port=srv.port)
    r.hset("h", mapping={"a": "1"})
    r.execute_command("DEBUG", "RELOAD")
    assert r.hgetall("h") == {b"a": b"1"}
    time.sleep(FROZEN)
    _clean(_finish(srv, path))


def test_aof_load_leaves_no_cycles(audited):
    """An AOF load runs with the collector off and freezes what it built: the commands it
    replays must leave no cycle behind either (groups created and dropped, functions
    replaced)."""
    srv = audited("--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    path = audited.path
    r = redis.Redis(port=srv.port)
    for key in ("s1", "s2"):
        for i in range(30):
            r.xadd(key, {"f": i})
        r.xgroup_create(key, "g", id="0")
        r.xreadgroup("g", "alice", {key: ">"}, count=10)
    r.xgroup_destroy("s1", "g")
    r.delete("s2")
    lib = "#!lua name=l1\nredis.register_function('%s', function(keys, args) return 1 end)"
    r.function_load(lib % "f1")
    r.function_load(lib % "f2", replace=True)
    r.hset("h", mapping={"a": "1"})
    time.sleep(FROZEN)
    _clean(_finish(srv, path))
    os.remove(path)
    srv = audited("--appendonly", "yes")     # loads the AOF
    r = redis.Redis(port=srv.port)
    assert r.hgetall("h") == {b"a": b"1"} and r.xlen("s1") == 30
    assert r.fcall("f2", 0) == 1
    time.sleep(FROZEN)
    _clean(_finish(srv, path))
