#!/usr/bin/env python3
"""The longest pauses while a server fills with containers: redislet vs real Redis.

    python bench/pause_bench.py [--keys 1000000] [--batch 1000] [--type hash] [--python-gc]

For each server kind (redis-server from PATH, then redislet as `python -m redislet`) on a
free port of 127.0.0.1 (no persistence): one connection writes --keys new keys of
--type (HSET h:N f v, SADD, RPUSH or ZADD), pipelined --batch at a time, while a second
connection sends one PING every 2 ms and times each reply. A pause of the server (a
collection of the cyclic garbage collector, a dict growing) shows as a slow PING and a
slow batch. Prints, per server, the fill time and the slowest PINGs and batches.
--python-gc runs redislet with REDISLET_GC=python (CPython's own collection schedule,
for comparison with redislet/gcpolicy.py's).
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

COMMANDS = {
    "hash": b"*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$1\r\nf\r\n$1\r\nv\r\n",
    "set": b"*3\r\n$4\r\nSADD\r\n$%d\r\n%s\r\n$1\r\nm\r\n",
    "list": b"*3\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n$1\r\ne\r\n",
    "zset": b"*4\r\n$4\r\nZADD\r\n$%d\r\n%s\r\n$1\r\n1\r\n$1\r\nm\r\n",
}


def read_replies(sock, count):
    """Read count one-line integer replies (':1\\r\\n')."""
    got = 0
    buf = b""
    while got < count:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        if chunk[:1] == b"-":
            raise RuntimeError(chunk[:200].decode(errors="replace"))
        buf += chunk
        got += buf.count(b"\r\n")
        buf = buf[buf.rfind(b"\r\n") + 2:]


def pinger(port, stop, out):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not stop.is_set():
            t = time.perf_counter()
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                reply += s.recv(64)
            out.append(time.perf_counter() - t)
            time.sleep(0.002)


def fill(port, keys, batch, kind):
    template = COMMANDS[kind]
    batches = []
    with socket.create_connection(("127.0.0.1", port)) as s:
        for start in range(0, keys, batch):
            end = min(start + batch, keys)
            data = b"".join(template % (len(k), k)
                            for k in (b"k:%d" % i for i in range(start, end)))
            t = time.perf_counter()
            s.sendall(data)
            read_replies(s, end - start)
            batches.append(time.perf_counter() - t)
    return batches


def measure(server, args):
    stop = threading.Event()
    pings = []
    th = threading.Thread(target=pinger, args=(server.port, stop, pings), daemon=True)
    th.start()
    t = time.perf_counter()
    batches = fill(server.port, args.keys, args.batch, args.type)
    elapsed = time.perf_counter() - t
    stop.set()
    th.join()
    server.check_alive()
    pings.sort()
    slow = sorted(batches)
    return {"fill_s": elapsed, "pings": len(pings),
            "ping_p99_ms": pings[int(len(pings) * 0.99)] * 1000,
            "ping_max_ms": pings[-1] * 1000,
            "batch_median_ms": slow[len(slow) // 2] * 1000,
            "batch_max_ms": slow[-1] * 1000,
            "batches_over_50ms": sum(1 for b in batches if b > 0.05)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--type", choices=sorted(COMMANDS), default="hash")
    ap.add_argument("--python-gc", action="store_true")
    ap.add_argument("--redis-server", default="redis-server")
    args = ap.parse_args(argv)
    import tempfile
    workdir = tempfile.mkdtemp(prefix="pause-bench-")
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    if args.python_gc:
        env["REDISLET_GC"] = "python"
    kinds = [("redis", lambda p: [args.redis_server] + server_flags(p, 1000), None),
             ("redislet", lambda p: [sys.executable, "-m", "redislet"] + server_flags(p, 1000),
              env)]
    print("%d new %s keys, %d per batch, a PING every 2 ms%s"
          % (args.keys, args.type, args.batch,
             " (redislet: REDISLET_GC=python)" if args.python_gc else ""))
    print("%-9s %7s %9s %11s %12s %13s %11s %9s" % (
        "server", "fill s", "pings", "ping p99", "ping max", "batch median", "batch max",
        "> 50 ms"))
    for name, argv_for_port, server_env in kinds:
        server = Server(name, argv_for_port, workdir, env=server_env)
        try:
            m = measure(server, args)
        finally:
            server.stop()
        print("%-9s %7.1f %9d %8.2f ms %9.1f ms %10.2f ms %8.1f ms %9d" % (
            name, m["fill_s"], m["pings"], m["ping_p99_ms"], m["ping_max_ms"],
            m["batch_median_ms"], m["batch_max_ms"], m["batches_over_50ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
