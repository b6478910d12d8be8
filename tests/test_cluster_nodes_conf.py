"""nodes.conf as Redis 7.0.15 keeps it: rewritten in place on every configuration change
(a shorter description leaves no padding behind), and locked (flock) for the life of the
node, so a second node on the same file refuses to start. Checked on redislet and on
Debian's redis-server alike."""
import os
import subprocess
import sys

import pytest

from conftest import Raw, ROOT, REDIS_SERVER, free_port, start_real_redis, start_redislet

KINDS = ["redislet", "redis"]


def _start(kind, tmp):
    # (a cluster-port of its own: a free port may be too high for port + 10000)
    return (start_redislet if kind == "redislet" else start_real_redis)(
        tmp, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
        "--cluster-port", str(free_port()))


def _conf(tmp):
    with open(os.path.join(str(tmp), "nodes.conf"), "rb") as f:
        return f.read()


@pytest.mark.parametrize("kind", KINDS)
def test_rewritten_in_place_without_padding(kind, tmp_path):
    srv = _start(kind, tmp_path)
    try:
        c = Raw(srv.port)
        ino = os.stat(os.path.join(str(tmp_path), "nodes.conf")).st_ino
        # slots 0-99 then 200: the longest description, then a shorter one
        assert c.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "99", "200", "200") == b"+OK\r\n"
        c.cmd("PING")                           # (the save comes before the next command)
        long_conf = _conf(tmp_path)
        assert b" 0-99 200\n" in long_conf
        assert c.cmd("CLUSTER", "DELSLOTSRANGE", "1", "99", "200", "200") == b"+OK\r\n"
        c.cmd("PING")
        conf = _conf(tmp_path)
        lines = conf.split(b"\n")
        assert lines[-1] == b"" and lines[-2].startswith(b"vars currentEpoch "), conf
        assert b"\n\n" not in conf and len(conf) < len(long_conf)
        assert b" 0-99" not in conf and b"myself,master" in conf
        # the same file all along: the lock taken at start stays on it
        assert os.stat(os.path.join(str(tmp_path), "nodes.conf")).st_ino == ino
    finally:
        srv.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_second_node_on_the_same_file_refuses(kind, tmp_path):
    if kind == "redis" and REDIS_SERVER is None:
        pytest.skip("Debian's redis-server is not installed (apt-get install redis-server)")
    srv = _start(kind, tmp_path)
    try:
        Raw(srv.port).cmd("CLUSTER", "ADDSLOTS", "7")     # a save after the start
        port = free_port()
        argv = ([sys.executable, "-m", "redislet"] if kind == "redislet" else [REDIS_SERVER])
        env = dict(os.environ, PYTHONPATH=ROOT)
        p = subprocess.run(argv + ["--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--cluster-enabled", "yes", "--cluster-port",
                                   str(free_port()), "--cluster-config-file", "nodes.conf"],
                           cwd=str(tmp_path), capture_output=True, timeout=60, env=env)
        assert p.returncode == 1
        assert (b"Sorry, the cluster configuration file nodes.conf is already used by a "
                b"different Redis Cluster node.") in p.stdout + p.stderr
    finally:
        srv.stop()
