"""Client memory as Redis counts it (CLIENT LIST qbuf/argv-mem/multi-mem/rbs/omem/tot-mem),
client eviction (maxmemory-clients), output buffer limits and reply buffer resizing
(redislet/clientmem.py), compared with a real redis-server where the numbers are exact."""
import socket
import time

import pytest
import redis

from conftest import start_redislet, start_real_redis, encode_command


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A fresh redislet and a fresh real redis-server (skipped when absent)."""
    mine = start_redislet(tmp_path_factory.mktemp("cmem-redislet"))
    try:
        real = start_real_redis(tmp_path_factory.mktemp("cmem-redis"))
    except BaseException:
        mine.stop()
        raise
    yield mine, real
    mine.stop()
    real.stop()


@pytest.fixture
def lone(tmp_path):
    """A fresh redislet of its own (for tests that evict clients or change limits)."""
    s = start_redislet(tmp_path)
    yield s
    s.stop()


def control(port):
    return redis.Redis(port=port, decode_responses=True)


def connect(port, name, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(encode_command(["CLIENT", "SETNAME", name]))
    assert s.recv(100) == b"+OK\r\n"
    return s


def field(r, name, f):
    for c in r.client_list():
        if c.get("name") == name:
            return c[f]
    return None


def exists(r, name):
    return any(c.get("name") == name for c in r.client_list())


def wait_for(cond, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def closed(sock, timeout=5):
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


MEM_FIELDS = ("qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "obl", "oll", "omem",
              "tot-mem")


def settled(r, name):
    """The client's fields once the cron shrank its reply buffer (rbs=1024)."""
    assert wait_for(lambda: field(r, name, "rbs") == "1024", 5)
    return {f: field(r, name, f) for f in MEM_FIELDS}


def test_memory_fields_like_redis(servers):
    """Idle, partial big argument, partial multibulk, MULTI queue, subscriptions: the same
    CLIENT LIST memory fields as redis-server 7.0.15 (jemalloc sizes)."""
    results = []
    for srv in servers:
        r = control(srv.port)
        got = {}
        fresh = socket.create_connection(("127.0.0.1", srv.port))   # never sends
        assert wait_for(lambda: any(c["cmd"] == "NULL" and c["rbs"] == "1024"
                                    for c in r.client_list()))
        got["fresh"] = [{f: c[f] for f in MEM_FIELDS} for c in r.client_list()
                        if c["cmd"] == "NULL"]
        fresh.close()
        a = connect(srv.port, "idle")
        b = connect(srv.port, "bigarg")
        b.sendall(b"*2\r\n$3\r\nget\r\n$100000\r\n" + b"x" * 50000)
        assert wait_for(lambda: field(r, "bigarg", "qbuf") == "50000")
        got["bigarg"] = {f: field(r, "bigarg", f) for f in ("qbuf", "argv-mem", "tot-mem")}
        # the cron's recent peak: querybuf allocation + argv (+ its array), 114688 + 3 + 16
        assert wait_for(lambda: r.info("clients")["client_recent_max_input_buffer"]
                        == 114707, 3)
        m = connect(srv.port, "mbulk")
        m.sendall(b"*5\r\n$4\r\nmset\r\n$1\r\na\r\n$1000\r\n" + b"y" * 1000 + b"\r\n$1\r\nb\r\n")
        assert wait_for(lambda: field(r, "mbulk", "argv-mem") == "1006")
        got["mbulk"] = {f: field(r, "mbulk", f) for f in ("qbuf", "argv-mem", "tot-mem")}
        t = connect(srv.port, "multi")
        t.sendall(encode_command(["MULTI"]))
        assert t.recv(100) == b"+OK\r\n"
        for _ in range(3):
            t.sendall(encode_command(["SET", "k", "0123456789"]))
            assert t.recv(100) == b"+QUEUED\r\n"
        got["multi"] = settled(r, "multi")
        p = connect(srv.port, "sub")
        p.sendall(encode_command(["SUBSCRIBE", "a", "b", "c"]))
        p.sendall(encode_command(["PSUBSCRIBE", "x*", "y*"]))
        assert wait_for(lambda: field(r, "sub", "psub") == "2")
        got["sub"] = settled(r, "sub")
        got["idle"] = settled(r, "idle")
        results.append(got)
        for s in (a, b, m, t, p):
            s.close()
        r.close()
    assert results[0] == results[1]
    assert results[0]["idle"]["tot-mem"] == "1800" or results[0]["idle"]["qbuf-free"] == "20474"


def test_client_no_evict_flag_and_info(servers):
    for srv in servers:
        r = control(srv.port)
        r.execute_command("CLIENT", "NO-EVICT", "on")
        assert "e" in r.client_info()["flags"]
        r.execute_command("CLIENT", "NO-EVICT", "off")
        assert r.client_info()["flags"] == "N"
        with pytest.raises(redis.ResponseError, match="syntax error"):
            r.execute_command("CLIENT", "NO-EVICT", "maybe")
        assert "evicted_clients" in r.info("stats")
        with pytest.raises(redis.ResponseError, match="maxmemory-clients is disabled"):
            r.execute_command("DEBUG", "CLIENT-EVICTION")
        r.close()


def test_eviction_by_query_buffer_and_no_evict(servers):
    """A client whose query buffer passes maxmemory-clients is evicted (evicted_clients
    counts it); a NO-EVICT client of the same size is not."""
    for srv in servers:
        r = control(srv.port)
        r.execute_command("CLIENT", "NO-EVICT", "on")
        r.config_set("maxmemory-clients", 3000000)
        r.config_resetstat()
        try:
            keep = connect(srv.port, "keep")
            keep.sendall(encode_command(["CLIENT", "NO-EVICT", "on"]))
            assert keep.recv(100) == b"+OK\r\n"
            keep.sendall(b"*1\r\n$3000001\r\n" + b"v" * 3000001)
            assert wait_for(lambda: field(r, "keep", "qbuf") == "3000001")
            assert int(field(r, "keep", "tot-mem")) > 3000000
            big = connect(srv.port, "big")
            try:
                big.sendall(b"*1\r\n$3000001\r\n" + b"v" * 3000001)
            except OSError:
                pass
            assert wait_for(lambda: not exists(r, "big"))
            assert closed(big)
            assert r.info("stats")["evicted_clients"] == 1
            assert exists(r, "keep")
            buckets = r.execute_command("DEBUG", "CLIENT-EVICTION")
            assert "bucket" in str(buckets)
            keep.close()
            big.close()
        finally:
            r.config_set("maxmemory-clients", 0)
            r.execute_command("CLIENT", "NO-EVICT", "off")
            r.close()


def _read_bulk(sock):
    buf = b""
    while not buf.endswith(b"\r\n") or len(buf) < int(buf[1:buf.index(b"\r\n")]) + 7:
        buf += sock.recv(65536)
    return buf


def test_eviction_before_the_next_command(servers):
    """evictClients runs in processCommand too: a client whose read took the clients past
    maxmemory-clients is gone before another client's command of the same loop pass
    (both wait behind a DEBUG SLEEP, so the server reads them in one pass, in order)."""
    for srv in servers:
        r = control(srv.port)
        r.execute_command("CLIENT", "NO-EVICT", "on")
        r.config_set("maxmemory-clients", 1000000)
        sleeper = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        other = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        big = connect(srv.port, "big")
        try:
            sleeper.sendall(encode_command(["DEBUG", "SLEEP", "0.5"]))
            time.sleep(0.1)
            big.sendall(b"*1\r\n$1000001\r\n" + b"v" * 100000)      # a partial query
            time.sleep(0.1)
            other.sendall(encode_command(["CLIENT", "LIST"]))
            listed = _read_bulk(other)
            assert b"name=big " not in listed, srv
            assert closed(big)
            assert sleeper.recv(100) == b"+OK\r\n"
        finally:
            for sock in (sleeper, other, big):
                sock.close()
            r.config_set("maxmemory-clients", 0)
            r.execute_command("CLIENT", "NO-EVICT", "off")
            r.close()


def test_eviction_percentage_of_maxmemory(lone):
    r = control(lone.port)
    r.execute_command("CLIENT", "NO-EVICT", "on")
    r.config_set("maxmemory", 6 * 1024 * 1024)
    r.config_set("maxmemory-clients", "7%")
    assert r.config_get("maxmemory-clients")["maxmemory-clients"] == "7%"
    limit = 6 * 1024 * 1024 * 7 // 100
    half = connect(lone.port, "half")
    half.sendall(b"*1\r\n$%d\r\n" % (limit // 2) + b"v" * (limit // 2))
    assert wait_for(lambda: field(r, "half", "qbuf") == str(limit // 2))
    assert limit // 2 <= int(field(r, "half", "tot-mem")) < limit
    half.close()
    full = connect(lone.port, "full")
    try:
        full.sendall(b"*1\r\n$%d\r\n" % limit + b"v" * limit)
    except OSError:
        pass
    assert wait_for(lambda: not exists(r, "full"))
    assert r.info("stats")["evicted_clients"] == 1
    r.close()


def test_eviction_largest_first_until_below(lone):
    """Bigger clients go first (buckets by powers of two), and only until the total is
    under the limit."""
    r = control(lone.port)
    r.execute_command("CLIENT", "NO-EVICT", "on")
    r.execute_command("DEBUG", "REPLYBUFFER", "RESIZING", "0")
    socks = []
    sizes = {"small": 128 * 1024, "mid": 1024 * 1024, "large": 3 * 1024 * 1024}
    for name, size in sizes.items():
        for i in range(2):
            s = connect(lone.port, "%s%d" % (name, i))
            s.sendall(b"*2\r\n$%d\r\n" % size + b"v" * size)
            socks.append(s)
    for name, size in sizes.items():
        assert wait_for(lambda: all(field(r, "%s%d" % (name, i), "qbuf") == str(size)
                                    for i in range(2)))
    mem = {n: int(field(r, n + "0", "tot-mem")) for n in sizes}
    assert mem["small"] >= sizes["small"] and mem["large"] >= sizes["large"]
    ctl = int(r.client_info()["tot-mem"])
    r.config_set("maxmemory-clients", 2 * mem["small"] + 2 * mem["mid"] + ctl)
    names = {c["name"] for c in r.client_list()}
    assert names == {"", "small0", "small1", "mid0", "mid1"}
    r.config_set("maxmemory-clients", 2 * mem["small"] + mem["mid"] + ctl)
    names = {c["name"] for c in r.client_list()}
    assert len(names & {"mid0", "mid1"}) == 1 and {"small0", "small1"} <= names
    assert r.info("stats")["evicted_clients"] == 3
    for s in socks:
        s.close()
    r.close()


def test_eviction_by_watched_keys_and_subscriptions(lone):
    r = control(lone.port)
    r.execute_command("CLIENT", "NO-EVICT", "on")
    r.config_set("maxmemory-clients", 200000)
    for cmd in ("WATCH", "PSUBSCRIBE", "SUBSCRIBE"):
        s = connect(lone.port, "grow")
        with pytest.raises((ConnectionError, OSError)):
            for j in range(200000):
                s.sendall(encode_command([cmd, str(j)]))
                if not s.recv(100):
                    raise ConnectionError
        s.close()
    assert r.info("stats")["evicted_clients"] == 3
    r.close()


def test_eviction_by_output_buffer(lone):
    """Unread replies: tot-mem grows with the output (omem) and the client is evicted
    before CLIENT LIST ever shows it over the limit."""
    r = control(lone.port)
    r.execute_command("CLIENT", "NO-EVICT", "on")
    r.config_set("maxmemory-clients", 3000000)
    r.setrange("k", 200000, "v")
    s = connect(lone.port, "out", rcvbuf=4096)
    seen_omem = 0
    for _ in range(2000):
        me = [c for c in r.client_list() if c.get("name") == "out"]
        if not me:
            break
        assert int(me[0]["tot-mem"]) < 3000000
        seen_omem = max(seen_omem, int(me[0]["omem"]))
        try:
            s.sendall(encode_command(["GET", "k"]))
        except OSError:
            break
    assert not exists(r, "out")
    assert seen_omem > 0
    assert r.info("stats")["evicted_clients"] == 1
    s.close()
    r.close()


@pytest.mark.parametrize("which", [0, 1])
def test_obuf_hard_limit_no_reply(servers, which):
    """A reply over the normal class's hard limit is never sent: the client is dropped."""
    srv = servers[which]
    r = control(srv.port)
    r.config_set("client-output-buffer-limit", "normal 100000 0 0")
    try:
        r.delete("biglist")
        r.rpush("biglist", *(["x" * 1000] * 150))
        s = connect(srv.port, "lrange")
        s.sendall(encode_command(["LRANGE", "biglist", "0", "-1"]))
        data = b""
        s.settimeout(5)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        assert data == b""
        assert not exists(r, "lrange")
        # a transaction still runs completely
        t = connect(srv.port, "tx")
        t.sendall(b"".join(encode_command(a) for a in (
            ["MULTI"], ["SET", "k2", "v2"], ["LRANGE", "biglist", "0", "-1"],
            ["SET", "k3", "v3"], ["EXEC"])))
        assert closed(t)
        assert r.get("k2") == "v2" and r.get("k3") == "v3"
        # huge random replies stop mid-run
        r.config_set("client-output-buffer-limit", "normal 1000000 0 0")
        r.hset("myhash", "a", "b")
        h = connect(srv.port, "hrand")
        h.sendall(encode_command(["HRANDFIELD", "myhash", "-999999999"]))
        assert closed(h, 20)
        assert r.ping()
    finally:
        r.config_set("client-output-buffer-limit", "normal 0 0 0")
        r.delete("biglist", "k2", "k3", "myhash")
        r.close()


def test_obuf_soft_limit_without_traffic(lone):
    """The soft limit is enforced by the cron once the time passed, with no more output."""
    r = control(lone.port)
    r.config_set("client-output-buffer-limit", "pubsub 0 100000 1")
    s = connect(lone.port, "sub", rcvbuf=4096)
    s.sendall(encode_command(["SUBSCRIBE", "ch"]))
    time.sleep(0.1)
    msg = "x" * 10000
    for _ in range(2000):
        r.publish("ch", msg)
        omem = field(r, "sub", "omem")
        if omem is None or int(omem) > 100000:
            break
    assert exists(r, "sub")           # over the soft limit, but not long enough
    start = time.time()
    assert wait_for(lambda: not exists(r, "sub"), 4)
    assert time.time() - start >= 0.5
    s.close()
    r.close()


def test_reply_buffer_resizing(lone):
    r = control(lone.port)
    r.execute_command("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100")
    t = redis.Redis(port=lone.port, decode_responses=True)
    t.client_setname("tc")
    assert wait_for(lambda: 1024 <= int(field(r, "tc", "rbs")) < 2046, 2)
    r.set("bigval", "x" * 32768)
    r.execute_command("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "never")

    def grown():
        t.get("bigval")
        return 16384 <= int(field(r, "tc", "rbs")) < 32768
    assert wait_for(grown, 3)
    st = r.info("stats")
    assert st["reply_buffer_shrinks"] > 0 and st["reply_buffer_expands"] > 0
    r.execute_command("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "reset")
    r.execute_command("DEBUG", "REPLYBUFFER", "RESIZING", "0")
    n = int(field(r, "tc", "rbs"))
    time.sleep(0.5)
    assert int(field(r, "tc", "rbs")) == n
    t.close()
    r.close()


def test_partial_commands_count_in_used_memory(lone):
    """Arguments of a command still arriving are client memory: they count in used_memory
    and make maxmemory evict keys (maxmemory-clients off)."""
    r = control(lone.port)
    r.config_set("maxmemory", 11 * 1024 * 1024)
    r.config_set("maxmemory-policy", "allkeys-lru")
    for j in range(50):
        r.setrange(str(j), 100000, "x")
    before = r.info("memory")["used_memory"]
    socks = []
    for j in range(30):
        s = connect(lone.port, "dead%d" % j)
        s.sendall(b"*250\r\n" + (b"$1000\r\n" + b"x" * 1000 + b"\r\n") * 249)
        socks.append(s)
    assert wait_for(lambda: field(r, "dead29", "argv-mem") == "249000")
    assert r.info("stats")["evicted_keys"] > 0
    assert r.info("stats")["evicted_clients"] == 0
    assert r.dbsize() < 50
    assert r.info("memory")["used_memory"] <= 11 * 1024 * 1024 + 300000 + before * 0
    for s in socks:
        s.close()
    r.close()
