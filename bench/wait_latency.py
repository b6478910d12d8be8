#!/usr/bin/env python3
"""WAIT latency: pipelines of N SETs followed by `WAIT <replicas> <timeout>` against a master
with two replicas, timed per batch from the first byte sent to WAIT's reply: redislet vs
real Redis.

    python bench/wait_latency.py [--batches 200] [--sets 50] [--replicas 2] [--timeout 5000]
                                 [--kinds redislet,redis,redis-master]

Kinds: `redislet` (a redislet master and redislet replicas), `redis` (all redis-server),
`redis-master` (a redis-server master with redislet replicas: the replica side alone).
Prints, per kind, the median, p90, p99 and max batch time in ms and how many WAITs were
answered with fewer replicas than asked. Issue 17's target: redislet's median under 20 ms.
Servers listen on free ports of 127.0.0.1 without persistence; the machine is shared, so
compare the kinds of one run rather than absolute numbers.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One reply (simple types and bulk strings are all this benchmark reads)."""
        line = self.line()
        if line[:1] == b"$" and int(line[1:]) >= 0:
            n = int(line[1:])
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        return line

    def call(self, *args):
        self.s.sendall(encode(*args))
        return self.reply()

    def close(self):
        self.s.close()


def start(kind, port, workdir, *extra):
    if kind == "redis":
        argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    else:
        argv = [sys.executable, "-m", "redislet", "--port", str(port), "--save", ""]
    argv += ["--bind", "127.0.0.1", "--repl-diskless-sync-delay", "0", *extra]
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            c = Conn(port)
            ok = c.call("PING") == b"+PONG"
            c.close()
            if ok:
                return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    sys.exit("%s on %d did not start" % (kind, port))


def info_replication(port):
    c = Conn(port)
    text = c.call("INFO", "replication").decode("utf-8", "replace")
    c.close()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def wait_online(master_port, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = info_replication(master_port)
        online = sum(1 for k, v in info.items() if k.startswith("slave") and k[5:].isdigit()
                     and "state=online" in v)
        if online >= n:
            return
        time.sleep(0.1)
    sys.exit("replicas did not come online")


def measure(master_kind, replica_kind, args):
    workdir = tempfile.mkdtemp(prefix="wait-bench-")
    procs = []
    try:
        mport = free_port()
        procs.append(start(master_kind, mport, workdir))
        for i in range(args.replicas):
            d = os.path.join(workdir, "r%d" % i)
            os.mkdir(d)
            procs.append(start(replica_kind, free_port(), d, "--replicaof", "127.0.0.1",
                               str(mport)))
        wait_online(mport, args.replicas)
        c = Conn(mport)
        value = b"x" * args.value_size
        times, short = [], 0
        for b in range(args.warmup + args.batches):
            payload = b"".join(encode("SET", "key:%d" % ((b * args.sets + i) % 10000), value)
                               for i in range(args.sets))
            payload += encode("WAIT", args.replicas, args.timeout)
            t0 = time.perf_counter()
            c.s.sendall(payload)
            for _ in range(args.sets):
                c.reply()
            acked = int(c.reply()[1:])
            dt = (time.perf_counter() - t0) * 1000.0
            if b >= args.warmup:
                times.append(dt)
                short += acked < args.replicas
        c.close()
        return times, short
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def pct(sorted_vals, q):
    return sorted_vals[min(len(sorted_vals) - 1, int(round(q * (len(sorted_vals) - 1))))]


KINDS = {"redislet": ("redislet", "redislet"), "redis": ("redis", "redis"),
         "redis-master": ("redis", "redislet")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--sets", type=int, default=50)
    ap.add_argument("--value-size", type=int, default=16)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=5000)
    ap.add_argument("--kinds", default="redislet,redis")
    args = ap.parse_args()
    if shutil.which("redis-server") is None:
        print("redis-server not found: measuring redislet only", file=sys.stderr)
    print("%d batches of %d SETs + WAIT %d %d; batch time in ms"
          % (args.batches, args.sets, args.replicas, args.timeout))
    print("%-14s %8s %8s %8s %8s %8s" % ("kind", "median", "p90", "p99", "max", "short"))
    for kind in args.kinds.split(","):
        mk, rk = KINDS[kind]
        if "redis" in (mk, rk) and shutil.which("redis-server") is None:
            continue
        times, short = measure(mk, rk, args)
        s = sorted(times)
        print("%-14s %8.2f %8.2f %8.2f %8.2f %8d" % (kind, statistics.median(s), pct(s, 0.9),
                                                    pct(s, 0.99), s[-1], short))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
