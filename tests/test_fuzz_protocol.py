"""Hostile input: a bounded, seeded fuzzer of malformed and hostile RESP frames sent over
TCP to redislet and to a real redis-server, plus the input limits (proto-max-bulk-len,
client-query-buffer-limit, multibulk/inline limits, maxclients, output buffer limits, a
huge declared bulk trickled in).

Each fuzz case opens one connection per server, sends the frame (in random chunks), shuts
the write side and reads until the server closes: the bytes must be identical (the case is
only checked for liveness when either side reset the connection, which may drop bytes).
Between cases another long-lived client must keep getting answers.
"""
import os
import random
import re
import socket
import time

import pytest

from conftest import Raw, encode_command, start_redislet, start_real_redis

SEED = int(os.environ.get("FUZZ_SEED", "20240607"))
BUDGET = float(os.environ.get("FUZZ_SECONDS", "15"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    a = start_redislet(tmp_path_factory.mktemp("fz-a"))
    b = start_real_redis(tmp_path_factory.mktemp("fz-b"))
    yield a, b
    a.stop()
    b.stop()


VALID = [
    ["PING"], ["PING", "x"], ["ECHO", "hello"], ["SET", "k", "v"], ["GET", "k"], ["DEL", "k"],
    ["INCR", "n"], ["INCRBY", "n", "x"], ["LPUSH", "l", "a", "b"], ["LRANGE", "l", "0", "-1"],
    ["HSET", "h", "f", "v"], ["HGETALL", "h"], ["SADD", "s", "m"], ["SCARD", "s"],
    ["ZADD", "z", "1", "a"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["EXISTS", "k", "l"],
    ["TYPE", "h"], ["GET"], ["SET", "k"], ["NOSUCHCMD", "a"], ["MULTI"], ["EXEC"],
    ["DISCARD"], ["SELECT", "1"], ["SELECT", "99"], ["APPEND", "k", "zz"], ["STRLEN", "k"],
    ["GETRANGE", "k", "0", "1"], ["MSET", "a", "1", "b", "2"], ["MGET", "a", "b", "c"],
    ["HELLO", "3"], ["HELLO", "2"], ["HELLO", "4"], ["CLIENT", "SETNAME", "fz"],
    ["CLIENT", "GETNAME"], ["STRLEN", "k"], ["EXPIRE", "k", "100"],
    ["TTL", "k"], ["PERSIST", "k"], ["SETRANGE", "k", "3", "x"], ["LPOP", "l"],
    ["OBJECT", "ENCODING", "l"], ["ZSCORE", "z", "a"], ["HINCRBY", "h", "n", "1"],
]

MALFORMED = [
    b"*-1\r\n", b"*0\r\n", b"*abc\r\n", b"*3000000000\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$abc\r\n",
    b"*2\r\n:1\r\n", b"*1\r\n$3\r\nab\r\n", b"*1\r\n*1\r\n", b"\r\n", b"\n", b"\r\r\n",
    b"*1\r\n$600000000\r\n", b"$5\r\nhello\r\n", b"*1\r\n+OK\r\n", b"*1\r\n$4\r\nPI",
    b"\"unbalanced\r\n", b"SET k \"a\"b\r\n", b"SET k 'x\r\n", b"GET \"\\x41\"\r\n",
    b"*2\r\n$3\r\nGET\r\n$1\r\nkk\r\n", b"*\r\n", b"*-5\r\n", b"*1\r\n$\r\n",
    b"*1\r\n$0\r\n\r\n", b"\x00\x01\x02\r\n", b"*1\r\n$1\r\n\x00\r\n", b"ping\r\n",
    b"   \r\n", b"*1\r\n$-0\r\n", b"*+1\r\n", b"*1\r\n$+4\r\nPING\r\n", b"*01\r\n$4\r\nPING\r\n",
    b"*1\r\n$04\r\nPING\r\n", b"*1 \r\n", b"*9999999999999999999999\r\n", b"*1\r\n$4 \r\n",
    b"ECHO \"a\\r\\nb\"\r\n", b"*2\r\n$4\r\nECHO\r\n$1048577\r\n", b"*1\r\nxyz\r\n",
    b"*11\r\n", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n", b"*1\r\n\r\n", b"*1\r\n$4\r\nPING",
]


def _frame(rnd):
    parts = []
    for _ in range(rnd.randint(1, 6)):
        roll = rnd.random()
        if roll < 0.45:
            parts.append(encode_command(rnd.choice(VALID)))
        elif roll < 0.6:
            args = rnd.choice(VALID)
            parts.append((" ".join(args) + rnd.choice(["\r\n", "\n"])).encode())
        elif roll < 0.85:
            parts.append(rnd.choice(MALFORMED))
        elif roll < 0.93:
            # a valid frame cut or corrupted at a random byte
            f = bytearray(encode_command(rnd.choice(VALID)))
            i = rnd.randrange(len(f))
            if rnd.random() < 0.5:
                f = f[:i]
            else:
                f[i] = rnd.randrange(256)
            parts.append(bytes(f))
        elif roll < 0.97:
            parts.append(bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 40))))
        else:
            # big inline / big bulk pieces
            n = rnd.choice([1000, 40000, 70000])
            parts.append(rnd.choice([b"x" * n, b"*1\r\n$%d\r\n" % n + b"y" * n + b"\r\n",
                                     b"ECHO " + b"z" * n + b"\r\n"]))
    return b"".join(parts)


_CLIENT_ID = re.compile(rb"id\r\n:\d+").sub     # HELLO's client id


def _exchange(port, data, rnd_chunks):
    """Send data (in the given chunk sizes), half-close, read until EOF.
    Returns (bytes, reset)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    out = b""
    reset = False
    try:
        pos = 0
        for n in rnd_chunks:
            s.sendall(data[pos:pos + n])
            pos += n
        if pos < len(data):
            s.sendall(data[pos:])
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        reset = True
    except OSError:     # ENOTCONN: the server already closed (and reset) the connection
        reset = True
    finally:
        s.close()
    return out, reset


def test_fuzz_protocol(pair):
    a, b = pair
    rnd = random.Random(SEED)
    for s in (a, b):
        Raw(s.port).cmd("FLUSHALL")
    watcher = Raw(a.port)
    ctl = (Raw(a.port), Raw(b.port))
    start = time.time()
    cases = compared = 0
    mismatches = []
    while time.time() - start < BUDGET:
        data = _frame(rnd)
        chunks = [rnd.randint(1, 64) for _ in range(rnd.randint(0, 4))]
        ra, reset_a = _exchange(a.port, data, chunks)
        rb, reset_b = _exchange(b.port, data, chunks)
        cases += 1
        if reset_a or reset_b:
            # a reset may drop replies (not effects): start the next case from equal data
            for conn in ctl:
                conn.cmd("FLUSHALL")
        else:
            compared += 1
            ra, rb = _CLIENT_ID(b"id\\r\\n:N", ra), _CLIENT_ID(b"id\\r\\n:N", rb)
            # Redis frees a client at EOF with its unsent replies, so after our half-close
            # it may cut a big reply short (a race); redislet sends everything
            if ra != rb and not (len(ra) > 65536 and ra.startswith(rb)):
                mismatches.append((data, ra, rb))
        if cases % 25 == 0:
            assert watcher.cmd("PING") == b"+PONG\r\n"
    assert watcher.cmd("ECHO", "alive") == b"$5\r\nalive\r\n"
    elapsed = time.time() - start
    print("\nfuzz: seed=%d cases=%d compared=%d mismatches=%d in %.1fs"
          % (SEED, cases, compared, len(mismatches), elapsed))
    assert cases >= 200
    if mismatches:
        data, ra, rb = mismatches[0]
        if os.environ.get("FUZZ_DUMP"):      # the full case, for replaying it by hand
            with open(os.environ["FUZZ_DUMP"], "wb") as f:
                f.write(repr((data, ra, rb)).encode())
        at = next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
        lo = max(0, at - 100)
        raise AssertionError("first mismatch: frame %r\nreplies differ at byte %d:\nredislet "
                             "%r\nredis    %r" % (data[:300], at, ra[lo:at + 200], rb[lo:at + 200]))


# ---------------------------------------------------------------------------------------
# limits
# ---------------------------------------------------------------------------------------
def _both_raw(pair, data, timeout=5):
    outs = []
    for s in pair:
        c = Raw(s.port)
        c.send(data)
        outs.append(c.read_until_closed(timeout))
        c.close()
    return outs


def test_proto_max_bulk_len(pair):
    for s in pair:
        assert Raw(s.port).cmd("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
    try:
        ra, rb = _both_raw(pair, b"*2\r\n$3\r\nSET\r\n$1048577\r\n")
        assert ra == rb == b"-ERR Protocol error: invalid bulk length\r\n"
        ra, rb = _both_raw(pair, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n" + b"v" * 1048576
                           + b"\r\n*1\r\n$4\r\nQUIT\r\n")
        assert ra == rb == b"+OK\r\n+OK\r\n"
    finally:
        for s in pair:
            Raw(s.port).cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb")


def test_multibulk_and_inline_limits(pair):
    for data, err in [(b"*3000000000\r\n", b"invalid multibulk length"),
                      (b"*1\r\n$4\r\nPING\r\n*-x\r\n", b"invalid multibulk length"),
                      (b"x" * (64 * 1024 + 10), b"too big inline request"),
                      (b"*" + b"1" * (64 * 1024 + 10), b"too big mbulk count string"),
                      (b"*1\r\n$" + b"1" * (64 * 1024 + 10), b"too big bulk count string"),
                      (b"*1\r\n*1\r\n", b"expected '$', got '*'")]:
        ra, rb = _both_raw(pair, data)
        assert ra == rb and err in ra, (data[:30], ra, rb)


def test_query_buffer_limit(pair):
    for s in pair:
        assert Raw(s.port).cmd("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"+OK\r\n"
    try:
        # a declared 3 MB argument: the connection is dropped once 1 MB is buffered
        data = b"*2\r\n$4\r\nECHO\r\n$3000000\r\n" + b"a" * (1024 * 1024 + 100000)
        outs = []
        for s in pair:
            c = Raw(s.port)
            try:
                c.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            outs.append(c.read_until_closed(5))
        assert outs[0] == outs[1] == b""
        for s in pair:
            assert Raw(s.port).cmd("PING") == b"+PONG\r\n"
    finally:
        for s in pair:
            Raw(s.port).cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb")


def test_maxclients(pair):
    outs = []
    for s in pair:
        c = Raw(s.port)
        rejected = int(c.cmd("INFO", "stats").split(b"rejected_connections:")[1].split(
            b"\r\n")[0])
        n = int(c.cmd("INFO", "clients").split(b"connected_clients:")[1].split(b"\r\n")[0])
        assert c.cmd("CONFIG", "SET", "maxclients", str(n)) == b"+OK\r\n"
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        extra.sendall(b"PING\r\n")
        data = b""
        try:
            while True:
                chunk = extra.recv(1000)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        outs.append(data)
        assert c.cmd("CONFIG", "SET", "maxclients", "10000") == b"+OK\r\n"
        assert b"rejected_connections:%d" % (rejected + 1) in c.cmd("INFO", "stats")
    assert outs[0] == outs[1] == b"-ERR max number of clients reached\r\n"


def test_output_buffer_limit(pair):
    """A client that does not read its replies is disconnected at the hard limit."""
    for srv in pair:
        c = Raw(srv.port)
        assert c.cmd("CONFIG", "SET", "client-output-buffer-limit",
                     "normal 100kb 0 0") == b"+OK\r\n"
        try:
            c.cmd("SET", "big", "x" * 50000)
            victim = socket.socket()
            victim.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            victim.connect(("127.0.0.1", srv.port))
            victim.settimeout(5)
            victim.sendall(encode_command(["GET", "big"]) * 400)     # 20 MB of replies
            time.sleep(0.5)
            got = 0
            try:
                while True:
                    chunk = victim.recv(1 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
            except ConnectionResetError:
                pass
            victim.close()
            assert got < 400 * 50000, srv     # cut off long before all the replies
            assert c.cmd("PING") == b"+PONG\r\n"
        finally:
            c.cmd("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0")
            c.cmd("DEL", "big")


def _rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_huge_declared_bulk_trickle(tmp_path):
    """A client declares a 500 MB argument and trickles bytes: memory follows what was
    received, not what was declared."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc to read the server's memory")
    s = start_redislet(tmp_path)
    try:
        before = _rss_kb(s.proc.pid)
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        c.sendall(b"*2\r\n$4\r\nECHO\r\n$500000000\r\n")
        for _ in range(200):
            c.sendall(b"x" * 512)
        time.sleep(0.3)
        other = Raw(s.port)
        assert other.cmd("PING") == b"+PONG\r\n"
        after = _rss_kb(s.proc.pid)
        assert after - before < 50 * 1024, (before, after)
        info = other.cmd("CLIENT", "LIST")
        assert b"qbuf=" in info
        c.close()
    finally:
        s.stop()


@pytest.mark.parametrize("frame", [
    b"*2\r\n$4\r\nPING\r\n$1\r\nx\r\n~1\r\n$3\r\nGET\r\n*1\r\n$4\r\nPING\r\n",
    b"*1\r\n$4\r\nPING\r\n%1\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    b"*1\r\n$4\r\nPING\r\n>1\r\n$4\r\nPING\r\n", b"*1\r\n$4\r\nPING\r\n|1\r\n$4\r\nPING\r\n",
    b"PI\x00NG\r\n*1\r\n$4\r\nPING\r\n", b"*1\x00\r\n$4\r\nPING\r\n",
    b"*1\r\n\x007\r\nPING\r\n", b"*1\r\n\xd97\r\nPING\r\n", b"SET k a\x0cb\r\nGET k\r\n",
    b"ECHO a\x0bb\r\n", b"*1\r\n$3\r\n\xff\xfe\x00\r\n", b"*2\r\n$3\r\nGET\r\n$1\r\n\x00\r\n",
])
def test_regressions(pair, frame):
    """Frames the fuzzer found where the replies differed (hiredis fast path on RESP3
    headers, strchr() stopping at NUL bytes, raw bytes in error texts, sdssplitargs)."""
    chunks = []
    ra, reset_a = _exchange(pair[0].port, frame, chunks)
    rb, reset_b = _exchange(pair[1].port, frame, chunks)
    assert (ra, reset_a) == (rb, reset_b)
