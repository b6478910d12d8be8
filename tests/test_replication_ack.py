"""The replication link, byte for byte against real Redis 7.0.15 (issue 17):

- a fake master (a Python socket doing the PSYNC handshake) drives a redislet replica and a
  real redis-server replica with the same stream, and the REPLCONF ACKs each sends back are
  compared: REPLCONF GETACK is answered at once with the offset processed BEFORE it;
- a fake replica attached to a freshly started master sees the RDB and then nothing (no
  PING right after the payload: PINGs fall on repl-ping-replica-period boundaries);
- WAIT with redislet replicas answers as soon as they acknowledge (not with the cron ACK);
- a writable replica expires the keys it was given a TTL on, and deletes an expired key a
  write looks up; diskless loading shows loading / async_loading; a command of the master
  that fails is logged ("== CRITICAL ==").
"""
import os
import socket
import time

import pytest
import redis

from conftest import start_redislet, start_real_redis

GETACK = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"
PING = b"*1\r\n$4\r\nPING\r\n"
SET = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
EMPTY_RDB = b"REDIS0010\xff" + b"\0" * 8        # checksum 0: not checked


class FakeMaster:
    """Accepts one replica, answers its handshake, sends +FULLRESYNC and an empty RDB."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.conn = None
        self.buf = b""

    def accept(self, timeout=15):
        self.ls.settimeout(timeout)
        self.conn, _ = self.ls.accept()
        self.conn.settimeout(timeout)

    def _fill(self):
        data = self.conn.recv(65536)
        if not data:
            raise ConnectionError("replica closed the link")
        self.buf += data

    def read_command(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        assert line[:1] == b"*", line
        args = []
        for _ in range(int(line[1:])):
            while b"\r\n" not in self.buf:
                self._fill()
            head, self.buf = self.buf.split(b"\r\n", 1)
            n = int(head[1:])
            while len(self.buf) < n + 2:
                self._fill()
            args.append(self.buf[:n])
            self.buf = self.buf[n + 2:]
        return args

    def handshake(self):
        while True:
            args = self.read_command()
            name = args[0].upper()
            if name == b"PSYNC":
                break
            self.conn.sendall(b"+PONG\r\n" if name == b"PING" else b"+OK\r\n")
        self.conn.sendall(b"+FULLRESYNC %s 0\r\n$%d\r\n%s"
                          % (b"a" * 40, len(EMPTY_RDB), EMPTY_RDB))

    def collect(self, seconds):
        """Raw bytes the replica sends within `seconds`."""
        out = self.buf
        self.buf = b""
        self.conn.settimeout(0.05)
        end = time.time() + seconds
        while time.time() < end:
            try:
                data = self.conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            out += data
        self.conn.settimeout(15)
        return out

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.ls.close()


def ack(offset):
    s = str(offset).encode()
    return b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%s\r\n" % (len(s), s)


def acks_for(start, tmp_path, chunks):
    """Start a replica of a fake master, sync it, wait for its first periodic ACK (so the
    next one is about a second away), send the chunks and return what it answered."""
    fm = FakeMaster()
    srv = None
    try:
        srv = start(tmp_path, "--replicaof", "127.0.0.1", str(fm.port))
        fm.accept()
        fm.handshake()
        assert fm.read_command() == [b"REPLCONF", b"ACK", b"0"]   # the cron's ACK
        for i, chunk in enumerate(chunks):
            fm.conn.sendall(chunk)
            if i + 1 < len(chunks):
                time.sleep(0.05)
        return fm.collect(0.4)
    finally:
        fm.close()
        if srv is not None:
            srv.stop()


CASES = {
    # the example: GETACK, PING (14 bytes), GETACK -> ACK 0, ACK 51
    "one-read": [GETACK + PING + GETACK],
    "separate-reads": [GETACK, PING, GETACK],
    "after-writes": [SET + GETACK + SET + SET + GETACK],
    "split-command": [SET[:7], SET[7:] + GETACK[:10], GETACK[10:]],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_getack_offsets_match_redis(tmp_path, case):
    chunks = CASES[case]
    (tmp_path / "redis").mkdir()
    (tmp_path / "redislet").mkdir()
    want = acks_for(start_real_redis, tmp_path / "redis", chunks)
    got = acks_for(start_redislet, tmp_path / "redislet", chunks)
    assert got == want
    if case == "one-read":
        assert want == ack(0) + ack(51)


def test_no_ping_after_rdb_of_fresh_master(tmp_path):
    """A replica attached to a master started moments ago gets the RDB and nothing else
    for the first seconds (Redis's first PING comes on the 10 s boundary)."""
    got = {}
    for name, start in (("redis", start_real_redis), ("redislet", start_redislet)):
        (tmp_path / name).mkdir()
        srv = start(tmp_path / name, "--repl-diskless-sync", "no")
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"REPLCONF capa psync2\r\n")
            assert s.recv(100) == b"+OK\r\n"
            s.sendall(b"PSYNC ? -1\r\n")
            data = b""
            s.settimeout(0.1)
            end = time.time() + 2.5
            while time.time() < end:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                data += chunk
            s.close()
        finally:
            srv.stop()
        head, rest = data.split(b"\r\n", 1)
        assert head.startswith(b"+FULLRESYNC ")
        size_line, payload = rest.lstrip(b"\n").split(b"\r\n", 1)
        got[name] = payload[int(size_line[1:]):]     # what follows the RDB
    assert got["redislet"] == got["redis"] == b""


def test_wait_answers_in_milliseconds(tmp_path):
    """Pipelined SETs + WAIT 2 with two redislet replicas: the replicas acknowledge the
    master's GETACK at once (before, WAIT waited for the once-a-second ACK)."""
    dirs = [tmp_path / n for n in ("m", "r1", "r2")]
    for d in dirs:
        d.mkdir()
    m = start_redislet(dirs[0], "--repl-diskless-sync-delay", "0")
    reps = []
    try:
        for d in dirs[1:]:
            reps.append(start_redislet(d, "--replicaof", "127.0.0.1", str(m.port)))
        c = redis.Redis(port=m.port, socket_timeout=10)
        deadline = time.time() + 30
        while c.info("replication").get("connected_slaves", 0) < 2 or any(
                "online" not in str(c.info("replication").get("slave%d" % i))
                for i in range(2)):
            assert time.time() < deadline, "replicas did not come online"
            time.sleep(0.05)
        times = []
        for b in range(20):
            p = c.pipeline(transaction=False)
            for i in range(50):
                p.set("key:%d" % i, b)
            p.execute_command("WAIT", 2, 5000)
            t0 = time.perf_counter()
            res = p.execute()
            times.append(time.perf_counter() - t0)
            assert res[-1] == 2
        times.sort()
        # the cron's ACK comes once a second: a median well under it means GETACK works
        assert times[len(times) // 2] < 0.25, times
    finally:
        for s in reps + [m]:
            s.stop()


def _pair(tmp_path, start, *replica_args):
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    m = start(tmp_path / "m", "--repl-diskless-sync-delay", "0")
    r = start(tmp_path / "r", *replica_args)
    rc = redis.Redis(port=r.port, socket_timeout=10)
    rc.replicaof("127.0.0.1", m.port)
    deadline = time.time() + 20
    while rc.info("replication").get("master_link_status") != "up":
        assert time.time() < deadline
        time.sleep(0.05)
    return m, r


@pytest.mark.parametrize("kind", ["redis", "redislet"])
def test_writable_replica_expires_its_own_keys(tmp_path, kind):
    start = start_real_redis if kind == "redis" else start_redislet
    m, r = _pair(tmp_path, start)
    try:
        rc = redis.Redis(port=r.port, db=5, socket_timeout=10)
        rc.config_set("replica-read-only", "no")
        rc.set("key1", 1, px=300)
        rc.set("key2", 2, px=300)
        assert rc.info("stats")["slave_expires_tracked_keys"] == 2
        deadline = time.time() + 5
        while rc.dbsize():
            assert time.time() < deadline, "keys set on the writable replica never expired"
            time.sleep(0.05)
        assert rc.info("stats")["slave_expires_tracked_keys"] == 0
        # keys the master expired: reads leave them to the master, a write deletes one
        mc = redis.Redis(port=m.port, db=5, socket_timeout=10)
        mc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
        mc.set("a", 5, px=10)
        mc.set("b", 5, px=10)
        deadline = time.time() + 5
        while not (rc.dbsize() == 2 and rc.exists("a", "b") == 0):
            assert time.time() < deadline
            time.sleep(0.05)
        assert rc.incr("a") == 1
        assert rc.ttl("a") == -1
        assert rc.get("b") is None
        assert rc.dbsize() == 2
        mc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1)
    finally:
        r.stop()
        m.stop()


@pytest.mark.parametrize("kind", ["redis", "redislet"])
def test_master_command_error_is_logged(tmp_path, kind):
    start = start_real_redis if kind == "redis" else start_redislet
    m, r = _pair(tmp_path, start)
    try:
        mc = redis.Redis(port=m.port, socket_timeout=10)
        mc.execute_command("DEBUG", "REPLICATE", "fake-command-1")
        mc.set("foo", "bar")
        assert mc.execute_command("WAIT", 1, 5000) == 1
        log = open(os.path.join(r.cwd, "server.log"), encoding="utf-8").read()
        lines = [ln for ln in log.splitlines() if "== CRITICAL ==" in ln]
        assert len(lines) == 1
        assert lines[0].split(" # ", 1)[1] == (
            "== CRITICAL == This replica is sending an error to its master: 'unknown command "
            "'fake-command-1', with args beginning with: ' after processing the command "
            "'<unknown>'")
        rc = redis.Redis(port=r.port, socket_timeout=10)
        assert rc.info("stats")["unexpected_error_replies"] == 1
    finally:
        r.stop()
        m.stop()


@pytest.mark.parametrize("kind", ["redis", "redislet"])
@pytest.mark.parametrize("same_replid", [False, True])
def test_diskless_load_states(tmp_path, kind, same_replid):
    """repl-diskless-load swapdb: while the RDB arrives the replica is loading (another
    master history) or async loading (the same one: the old data stays readable)."""
    start = start_real_redis if kind == "redis" else start_redislet
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    m = start(tmp_path / "m", "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
    r = start(tmp_path / "r", "--repl-diskless-load", "swapdb")
    try:
        mc = redis.Redis(port=m.port, socket_timeout=10)
        rc = redis.Redis(port=r.port, socket_timeout=10)
        if same_replid:
            rc.config_set("replica-read-only", "no")
            rc.replicaof("127.0.0.1", m.port)
            deadline = time.time() + 20
            while rc.info("replication").get("master_link_status") != "up":
                assert time.time() < deadline
                time.sleep(0.05)
        # big values: a loading Redis serves events once per 2 MB it parses
        mc.execute_command("DEBUG", "POPULATE", 300, "master", 30000)
        mc.config_set("rdbcompression", "no")
        rc.set("mykey", "myvalue")
        mc.config_set("rdb-key-save-delay", 10000)     # 10 ms per key: 3 s of transfer
        if same_replid:
            # drop the link and overflow the backlog so that the replica resyncs in full
            p = mc.pipeline(transaction=True)
            p.client_kill_filter(_type="replica")
            p.config_set("repl-backlog-size", 16384)
            for i in range(10):
                p.set("fill:%d" % i, "A" * 16384)
            p.execute()
        else:
            rc.replicaof("127.0.0.1", m.port)
        field = "async_loading" if same_replid else "loading"
        deadline = time.time() + 10
        while rc.info("persistence")[field] != 1:
            assert time.time() < deadline, "replica never entered " + field
            time.sleep(0.02)
        if same_replid:
            assert rc.info("persistence")["loading"] == 0
            assert rc.get("mykey") == b"myvalue"
            with socket.create_connection(("127.0.0.1", r.port), timeout=10) as s:
                s.sendall(b"CONFIG SET appendonly no\r\nREPLICAOF no one\r\n")
                data = b""
                while data.count(b"\r\n") < 2:
                    data += s.recv(1024)
            assert data == b"-LOADING Redis is loading the dataset in memory\r\n" * 2
        else:
            assert rc.info("persistence")["async_loading"] == 0
        # the master drops the link: the old dataset is kept
        mc.config_set("repl-diskless-sync-delay", 5)
        mc.client_kill_filter(_type="replica")
        deadline = time.time() + 10
        while rc.info("persistence")[field] != 0:
            assert time.time() < deadline
            time.sleep(0.02)
        assert rc.get("mykey") == b"myvalue"
        mc.config_set("rdb-key-save-delay", 0)
    finally:
        r.stop()
        m.stop()


@pytest.mark.parametrize("kind", ["redis", "redislet"])
def test_shutdown_waits_for_lagging_replica(tmp_path, kind):
    """SIGTERM on a master whose replica is stopped: writes pause, INFO shows
    shutdown_in_milliseconds, and the master exits once the replica caught up; the
    replica buffers count in mem_total_replication_buffers meanwhile."""
    import signal
    start = start_real_redis if kind == "redis" else start_redislet
    m, r = _pair(tmp_path, start)
    try:
        mc = redis.Redis(port=m.port, socket_timeout=10)
        rc = redis.Redis(port=r.port, socket_timeout=10)
        mc.config_set("shutdown-timeout", 60)
        mc.config_set("repl-backlog-size", 1)
        mc.set("k", 1)
        deadline = time.time() + 10
        while rc.get("k") != b"1":
            assert time.time() < deadline
            time.sleep(0.02)
        os.kill(r.proc.pid, signal.SIGSTOP)
        try:
            for i in range(200):          # until the socket buffers are full
                p = mc.pipeline(transaction=False)
                for j in range(256):
                    p.set("junk%d:%d" % (i, j), "x" * 1024)
                p.execute()
                time.sleep(0.01)
                if mc.info("memory")["mem_total_replication_buffers"] > 2 * 1024 * 1024:
                    break
            else:
                raise AssertionError("replication buffers never grew")
            mc.incr("k")
            os.kill(m.proc.pid, signal.SIGTERM)
            deadline = time.time() + 10
            while mc.info("server").get("shutdown_in_milliseconds", 0) <= 0:
                assert time.time() < deadline, "the master did not wait for its replica"
                time.sleep(0.02)
        finally:
            os.kill(r.proc.pid, signal.SIGCONT)
        m.proc.wait(30)
        assert rc.get("k") == b"2"
        log = open(os.path.join(m.cwd, "server.log"), encoding="utf-8").read()
        assert "Waiting for replicas before shutting down." in log
        assert "1 of 1 replicas are in sync when shutting down." in log
        assert "Lagging replica" not in log
    finally:
        r.stop()
        m.stop()


@pytest.mark.parametrize("kind", ["redis", "redislet"])
def test_restarted_master_propagates_expired_keys(tmp_path, kind):
    """A master restarted from its RDB (replication ID and offset in the AUX fields) drops
    the keys that expired meanwhile and puts their DELs in the backlog: the replica
    continues with PSYNC and ends with the same dataset."""
    import sys
    from conftest import ServerProcess, free_port, REDIS_SERVER, TEST_DEFAULTS
    if kind == "redis" and REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    mdir = tmp_path / "m"
    mdir.mkdir()
    mport = free_port()

    def master():
        exe = [REDIS_SERVER] if kind == "redis" else [sys.executable, "-m", "redislet"]
        return ServerProcess(exe + ["--port", str(mport), "--bind", "127.0.0.1",
                                    "--save", "3600 1", *TEST_DEFAULTS], mport, str(mdir))
    m = master()
    r = None
    try:
        (tmp_path / "r").mkdir()
        r = (start_real_redis if kind == "redis" else start_redislet)(tmp_path / "r")
        rc = redis.Redis(port=r.port, socket_timeout=10)
        rc.replicaof("127.0.0.1", mport)
        mc = redis.Redis(port=mport, socket_timeout=10)
        deadline = time.time() + 20
        while rc.info("replication").get("master_link_status") != "up":
            assert time.time() < deadline
            time.sleep(0.05)
        mc.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
        p = mc.pipeline(transaction=False)
        for j in range(64):
            p.execute_command("SELECT", j % 16)
            p.set(str(j), "v", px=10)
        p.execute()
        assert mc.execute_command("WAIT", 1, 5000) == 1
        time.sleep(0.05)
        m.stop()
        m = master()
        mc = redis.Redis(port=mport, socket_timeout=10)
        deadline = time.time() + 20
        while rc.info("replication").get("master_link_status") != "up":
            assert time.time() < deadline
            time.sleep(0.05)
        info = mc.info()
        assert info["rdb_last_load_keys_expired"] == 64
        assert info["sync_partial_ok"] == 1
        # 64 DELs (and the SELECTs between them) in the backlog
        assert info["repl_backlog_histlen"] > 64 * 20
        assert mc.execute_command("WAIT", 1, 5000) == 1
        assert rc.dbsize() == 0
        assert mc.execute_command("DEBUG", "DIGEST") == rc.execute_command("DEBUG", "DIGEST")
    finally:
        if r is not None:
            r.stop()
        m.stop()
