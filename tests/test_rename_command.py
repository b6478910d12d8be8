"""rename-command: the command answers under its new name only (clients, scripts, COMMAND),
CONFIG REWRITE keeps the directive, a bad rename is a fatal config error; the shared
command table of other servers in the same process is untouched. Compared with a real
redis-server."""
import os
import subprocess
import sys

import pytest

from conftest import REDIS_SERVER, ROOT, Raw, ServerProcess, free_port

CONF = "save \"\"\nbind 127.0.0.1\nrename-command flushdb badger\nrename-command config CoNf\n" \
       "rename-command debug \"\"\n"


def _start(which, tmp_path):
    port = free_port()
    d = tmp_path / which
    d.mkdir()
    conf = d / "r.conf"
    conf.write_text("port %d\n" % port + CONF)
    if which == "redislet":
        argv = [sys.executable, "-m", "redislet", str(conf)]
    else:
        if REDIS_SERVER is None:
            pytest.skip("redis-server not installed")
        argv = [REDIS_SERVER, str(conf)]
    return ServerProcess(argv, port, str(d)), conf


SCENARIO = [
    ("FLUSHDB",),
    ("flushdb",),
    ("badger",),
    ("BADGER",),
    ("CONFIG", "GET", "port"),
    ("conf", "get", "save"),
    ("DEBUG", "SLEEP", "0"),
    ("COMMAND", "COUNT"),
    ("COMMAND", "INFO", "flushdb", "badger", "debug"),
    ("EVAL", "return redis.call('badger')", "0"),
    ("EVAL", "return redis.pcall('flushdb')", "0"),
    ("MULTI",),
    ("flushdb",),
    ("EXEC",),
]


def _run(which, tmp_path):
    srv, conf = _start(which, tmp_path)
    c = Raw(srv.port)
    try:
        replies = [c.cmd(*args) for args in SCENARIO]
        replies.append(c.cmd("CONF", "REWRITE"))
        text = conf.read_text()
        replies.append([ln for ln in text.splitlines() if ln.startswith("rename-command")])
        return replies
    finally:
        c.close()
        srv.stop()


def test_rename_command_like_redis(tmp_path):
    ours = _run("redislet", tmp_path)
    theirs = _run("redis", tmp_path)
    assert ours == theirs
    assert ours[2] == b"+OK\r\n"
    assert ours[0].startswith(b"-ERR unknown command 'FLUSHDB'")
    assert ours[-1] == ["rename-command flushdb badger", "rename-command config CoNf",
                        'rename-command debug ""']


@pytest.mark.parametrize("line,msg", [
    ("rename-command nosuch x", "No such command in rename-command"),
    ("rename-command get set", "Target command name already exists"),
])
def test_bad_rename_is_fatal_like_redis(tmp_path, line, msg):
    conf = tmp_path / "bad.conf"
    conf.write_text("port %d\n%s\n" % (free_port(), line))
    env = dict(os.environ, PYTHONPATH=ROOT)
    ours = subprocess.run([sys.executable, "-m", "redislet", str(conf)], capture_output=True,
                          text=True, timeout=30, env=env)
    assert ours.returncode == 1
    assert msg in ours.stderr
    if REDIS_SERVER is not None:
        real = subprocess.run([REDIS_SERVER, str(conf)], capture_output=True, text=True,
                              timeout=30)
        assert real.returncode == 1
        assert ours.stderr == real.stderr


def test_other_servers_in_process_keep_the_table(tmp_path):
    import redis as redis_py
    from redislet import Server
    a = Server(rename_command=("flushdb", "badger"), dir=str(tmp_path)).start()
    b = Server(dir=str(tmp_path)).start()
    ra, rb = a.client(), b.client()
    try:
        with pytest.raises(redis_py.ResponseError, match="unknown command 'FLUSHDB'"):
            ra.flushdb()
        assert ra.execute_command("badger") == b"OK"
        assert rb.flushdb() is True
        with pytest.raises(redis_py.ResponseError, match="unknown command 'badger'"):
            rb.execute_command("badger")
    finally:
        ra.close()
        rb.close()
        a.stop()
        b.stop()


@pytest.mark.parametrize("replica_kind", ["redislet", "redis"])
def test_replica_runs_the_stream_through_its_renamed_table(tmp_path, replica_kind):
    """A renamed command from the master's stream is unknown to the replica (processCommand
    looks it up in server.commands)."""
    import time
    from conftest import start_real_redis, start_redislet
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    master = start_redislet(tmp_path / "m")
    start = start_redislet if replica_kind == "redislet" else start_real_redis
    replica = start(tmp_path / "r", "--rename-command", "append", "myappend")
    m, r = Raw(master.port), Raw(replica.port)
    try:
        r.cmd("REPLICAOF", "127.0.0.1", str(master.port))
        deadline = time.time() + 20
        while b"master_link_status:up" not in r.cmd("INFO", "replication"):
            assert time.time() < deadline
            time.sleep(0.05)
        m.cmd("APPEND", "a", "1")     # propagated as is
        m.cmd("SET", "b", "2")
        deadline = time.time() + 10
        while r.cmd("GET", "b") != b"$1\r\n2\r\n":
            assert time.time() < deadline
            time.sleep(0.05)
        assert r.cmd("EXISTS", "a") == b":0\r\n"
    finally:
        m.close()
        r.close()
        replica.stop()
        master.stop()
