#!/usr/bin/env python3
"""UNLINK of big values: redislet vs real Redis.

    python bench/unlink_bench.py [--members 1000000] [--rounds 1]

For each server kind (redis-server from PATH, then redislet as `python -m redislet`) on a
free port of 127.0.0.1 (no persistence): builds a set, then a sorted set, of --members
members in one key, then sends UNLINK while a second connection sends one PING every
millisecond. Prints the time UNLINK took to answer and the slowest PING in the half
second after it: Redis frees the value in a background thread, redislet between loop
passes (redislet/lazyfree.py), so neither should pause its clients.
"""
import argparse
import os
import socket
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from run import Server, server_flags   # noqa: E402


def command(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def reply_line(sock):
    buf = b""
    while not buf.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    if buf[:1] == b"-":
        raise RuntimeError(buf.decode(errors="replace"))
    return buf


def fill(sock, kind, members):
    for start in range(0, members, 10000):
        ids = range(start, min(members, start + 10000))
        if kind == "set":
            args = [b"SADD", b"big"] + [b"m%d" % i for i in ids]
        else:
            args = [b"ZADD", b"big"] + [x for i in ids for x in (b"%d" % i, b"m%d" % i)]
        sock.sendall(command(*args))
        reply_line(sock)


def measure(port, kind, members):
    with socket.create_connection(("127.0.0.1", port)) as s:
        fill(s, kind, members)
        pings = []
        stop = threading.Event()

        def pinger():
            with socket.create_connection(("127.0.0.1", port)) as q:
                while not stop.is_set():
                    t = time.perf_counter()
                    q.sendall(b"*1\r\n$4\r\nPING\r\n")
                    reply_line(q)
                    pings.append(time.perf_counter() - t)
                    time.sleep(0.001)
        th = threading.Thread(target=pinger, daemon=True)
        th.start()
        time.sleep(0.1)
        t = time.perf_counter()
        s.sendall(command(b"UNLINK", b"big"))
        assert reply_line(s) == b":1\r\n"
        unlink = time.perf_counter() - t
        time.sleep(0.5)
        stop.set()
        th.join()
    return unlink * 1000, max(pings) * 1000


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--redis-server", default="redis-server")
    args = ap.parse_args(argv)
    import tempfile
    workdir = tempfile.mkdtemp(prefix="unlink-bench-")
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    kinds = [("redis", lambda p: [args.redis_server] + server_flags(p, 100), None),
             ("redislet", lambda p: [sys.executable, "-m", "redislet"] + server_flags(p, 100),
              env)]
    print("UNLINK of one key of %d members; the slowest PING (every 1 ms) meanwhile"
          % args.members)
    print("%-9s %-5s %12s %14s" % ("server", "type", "UNLINK ms", "max PING ms"))
    for _ in range(args.rounds):
        for name, argv_for_port, server_env in kinds:
            server = Server(name, argv_for_port, workdir, env=server_env)
            try:
                for kind in ("set", "zset"):
                    unlink, ping = measure(server.port, kind, args.members)
                    print("%-9s %-5s %12.1f %14.1f" % (name, kind, unlink, ping))
            finally:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
