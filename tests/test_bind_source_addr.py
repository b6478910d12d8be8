"""bind-source-addr: a replica connects to its master from that address; one that cannot be
bound is given up for an unbound connection (anetTcpNonBlockBestEffortBindConnect). The
same scenario runs with a real redis-server as the replica."""
import socket
import time

import pytest

from conftest import Raw, start_real_redis, start_redislet


def _can_bind(addr):
    try:
        with socket.socket() as s:
            s.bind((addr, 0))
        return True
    except OSError:
        return False


def _slave0_ip(master, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = master.cmd("INFO", "replication").decode()
        for line in info.split("\r\n"):
            if line.startswith("slave0:") and "state=online" in line:
                return line.split("ip=")[1].split(",")[0]
        time.sleep(0.05)
    return None


def _scenario(tmp_path, replica_kind, source):
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    master = start_redislet(tmp_path / "m", "--protected-mode", "no")
    start = start_redislet if replica_kind == "redislet" else start_real_redis
    replica = start(tmp_path / "r")
    m, r = Raw(master.port), Raw(replica.port)
    try:
        assert r.cmd("CONFIG", "SET", "bind-source-addr", source) == b"+OK\r\n"
        r.cmd("REPLICAOF", "127.0.0.1", str(master.port))
        return _slave0_ip(m)
    finally:
        m.close()
        r.close()
        replica.stop()
        master.stop()


@pytest.mark.parametrize("replica_kind", ["redislet", "redis"])
def test_replica_connects_from_bind_source_addr(tmp_path, replica_kind):
    if not _can_bind("127.0.0.2"):
        pytest.skip("127.0.0.2 is not usable here")
    assert _scenario(tmp_path, replica_kind, "127.0.0.2") == "127.0.0.2"


@pytest.mark.parametrize("replica_kind", ["redislet", "redis"])
def test_unbindable_source_falls_back(tmp_path, replica_kind):
    if _can_bind("192.0.2.1"):
        pytest.skip("192.0.2.1 is bindable here")
    assert _scenario(tmp_path, replica_kind, "192.0.2.1") == "127.0.0.1"


@pytest.mark.parametrize("kind", ["redislet", "redis"])
def test_sentinel_links_bind_source_addr(tmp_path, kind):
    """Sentinel's links to a monitored master come from bind-source-addr
    (redisAsyncConnectBind)."""
    if not _can_bind("127.0.0.2"):
        pytest.skip("127.0.0.2 is not usable here")
    from conftest import free_port
    from test_sentinel import SentinelProcess
    (tmp_path / "m").mkdir()
    (tmp_path / "s").mkdir()
    master = start_redislet(tmp_path / "m", "--protected-mode", "no")
    sentinel = None
    m = Raw(master.port)
    try:
        if kind == "redis":
            from conftest import REDIS_SERVER
            if REDIS_SERVER is None:
                pytest.skip("redis-server not installed")
        sentinel = SentinelProcess(kind, tmp_path / "s", free_port(), [
            "bind-source-addr 127.0.0.2",
            "sentinel monitor mymaster 127.0.0.1 %d 1" % master.port])
        deadline = time.time() + 10
        addrs = set()
        while time.time() < deadline:
            lines = m.cmd("CLIENT", "LIST").decode().split("\n")
            addrs = {ln.split(" addr=")[1].split(":")[0] for ln in lines
                     if "name=sentinel-" in ln}
            if len(addrs) and len([ln for ln in lines if "name=sentinel-" in ln]) >= 2:
                break
            time.sleep(0.05)
        assert addrs == {"127.0.0.2"}
    finally:
        m.close()
        if sentinel is not None:
            sentinel.stop()
        master.stop()
