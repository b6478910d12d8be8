"""Test harness: a redislet server started as a subprocess (the real CLI), a real Debian
redis-server for differential tests, and raw-socket helpers for exact bytes."""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_SERVER = shutil.which("redis-server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, timeout=15):
    _wait_ping(port, proc, timeout, (b"+PONG", b"-NOAUTH"))


def wait_up(port, proc, timeout=15):
    """wait_ready content with -LOADING: a server loading its dataset already accepts
    (monkeypatch conftest.wait_ready with it to start one that loads slowly)."""
    _wait_ping(port, proc, timeout, (b"+PONG", b"-NOAUTH", b"-LOADING"))


def _wait_ping(port, proc, timeout, replies):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(replies):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server on %d did not start" % port)


class ServerProcess:
    """A server subprocess: redislet (python -m redislet) or the real redis-server."""

    def __init__(self, argv, port, cwd):
        self.port = port
        self.cwd = cwd
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.log = open(os.path.join(cwd, "server.log"), "wb")
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env)
        wait_ready(port, self.proc)

    @property
    def host(self):
        return "127.0.0.1"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# Like Redis's own tests (tests/assets/default.conf), test servers allow DEBUG; a test of
# the default refusal passes "--enable-debug-command", "no" after this. (MODULE stays at
# its default: tests/test_module_cmd.py checks the refusal on the shared servers.)
TEST_DEFAULTS = ("--enable-debug-command", "yes")


def start_redislet(tmp_path, *args):
    port = free_port()
    argv = [sys.executable, "-m", "redislet", "--port", str(port), "--save", "",
            "--bind", "127.0.0.1", *TEST_DEFAULTS, *args]
    return ServerProcess(argv, port, str(tmp_path))


def start_real_redis(tmp_path, *args):
    if REDIS_SERVER is None:
        pytest.skip("Debian's redis-server is not installed (apt-get install redis-server); "
                    "differential tests need it")
    port = free_port()
    argv = [REDIS_SERVER, "--port", str(port), "--save", "", "--bind", "127.0.0.1",
            "--appendonly", "no", *TEST_DEFAULTS, *args]
    return ServerProcess(argv, port, str(tmp_path))


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = start_redislet(tmp_path_factory.mktemp("redislet"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def real(tmp_path_factory):
    s = start_real_redis(tmp_path_factory.mktemp("redis"))
    yield s
    s.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, server):
    """A redis-py client on a clean server, for RESP2 and RESP3."""
    import redis
    client = redis.Redis(port=server.port, protocol=request.param, decode_responses=False)
    client.flushall()
    yield client
    client.close()


class Raw:
    """A raw RESP connection: send bytes, read exact reply bytes."""

    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, *args):
        """Send one command (multibulk) and return its complete reply bytes."""
        self.send(encode_command(args))
        return self.read_reply()

    def read_reply(self):
        while True:
            end = reply_end(self.buf, 0)
            if end is not None:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed; have %r" % self.buf)
            self.buf += chunk

    def read_until_closed(self, timeout=5):
        self.sock.settimeout(timeout)
        data = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data

    def close(self):
        self.sock.close()


def encode_command(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def reply_end(buf, pos):
    """Index just past the complete RESP2/RESP3 reply at pos, or None if incomplete."""
    if pos >= len(buf):
        return None
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    t = buf[pos:pos + 1]
    line = buf[pos + 1:nl]
    after = nl + 2
    if t in b"+-:_,#(":
        return after
    if t in b"$=!":
        n = int(line)
        if n < 0:
            return after
        end = after + n + 2
        return end if end <= len(buf) else None
    if t in b"*~>%|":
        n = int(line)
        if n < 0:
            return after
        if t in b"%|":
            n *= 2
        p = after
        for _ in range(n):
            p = reply_end(buf, p)
            if p is None:
                return None
        return p
    raise ValueError("bad reply type %r in %r" % (t, buf[pos:pos + 50]))


@pytest.fixture
def raw(server):
    conns = []

    def make():
        c = Raw(server.port)
        conns.append(c)
        return c
    yield make
    for c in conns:
        c.close()


@pytest.fixture
def both(server, real):
    """Differential testing: run the same commands on redislet and real Redis and
    compare the reply bytes. Usage: both("SET", "k", "v"), both.resp3() to switch."""
    return Differential(server.port, real.port)


class Differential:
    def __init__(self, port_a, port_b):
        self.a = Raw(port_a)
        self.b = Raw(port_b)
        self.a.cmd("FLUSHALL")
        self.b.cmd("FLUSHALL")

    def __call__(self, *args):
        ra = self.a.cmd(*args)
        rb = self.b.cmd(*args)
        assert ra == rb, "%r: redislet %r != redis %r" % (args, ra, rb)
        return ra

    def send_raw(self, data, until=None):
        """Send the same raw bytes to both; return (redislet bytes, redis bytes) read
        until each side closes or stays quiet for a moment, or (until) as soon as what
        was read ends with those bytes."""
        outs = []
        for conn in (self.a, self.b):
            conn.send(data)
            conn.sock.settimeout(5)      # the first bytes may take a while on a busy machine
            got = b""
            try:
                while True:
                    chunk = conn.sock.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                    if until is not None and got.endswith(until):
                        break
                    conn.sock.settimeout(0.5)
            except (socket.timeout, ConnectionResetError):
                pass
            outs.append(got)
        return outs[0], outs[1]

    def resp3(self):
        self.a.cmd("HELLO", "3")
        self.b.cmd("HELLO", "3")
        return self

    def close(self):
        self.a.close()
        self.b.close()


def parse_reply(buf, pos=0):
    """Decode one RESP2/RESP3 reply into Python values; returns (value, next position).
    Maps become lists of pairs and sets lists, so order-insensitive comparisons can sort."""
    nl = buf.index(b"\r\n", pos)
    t, line, after = buf[pos:pos + 1], buf[pos + 1:nl], nl + 2
    if t in b"+-":
        return (t + line), after
    if t == b":":
        return int(line), after
    if t in b"$=":
        n = int(line)
        if n < 0:
            return None, after
        return buf[after:after + n], after + n + 2
    if t == b"_":
        return None, after
    if t in b",(#":
        return t + line, after
    if t in b"*~>%":
        n = int(line)
        if n < 0:
            return None, after
        items = []
        p = after
        for _ in range(n * 2 if t == b"%" else n):
            v, p = parse_reply(buf, p)
            items.append(v)
        if t == b"%":
            items = [(items[i], items[i + 1]) for i in range(0, len(items), 2)]
        return items, p
    raise ValueError(t)
