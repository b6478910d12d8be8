#!/usr/bin/env python3
"""PUBLISH throughput to 1, 10 and 100 subscribers: redislet vs real Redis.

    python bench/pubsub_bench.py [-n 20000] [-P 50] [--subs 1,10,100] [--size 16] [--rounds 1]

For each server kind (redis-server from PATH, then redislet as `python -m redislet`) on a
free port of 127.0.0.1 (no persistence, pubsub output-buffer limits off): a reader process
opens S raw-socket subscribers to one channel and counts the delivered bytes (every message
has the same size, so bytes / size = messages); the publisher sends n PUBLISH commands
pipelined P at a time and checks that every reply is :S. A case is timed from the first
PUBLISH until the reader has received all n * S messages. Prints publishes per second,
deliveries per second and redislet / Redis ratios. The machine is shared: compare ratios.
"""
import argparse
import multiprocessing as mp
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHANNEL = b"bench:chan"


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


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    return bytes(buf)


def command(port, *args):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(encode(*args))
        data = s.recv(65536)
        if data.startswith(b"-"):
            raise RuntimeError("%r: %r" % (args, data))
        return data


def start_server(kind, port, workdir):
    if kind == "redis":
        argv = [shutil.which("redis-server"), "--port", str(port), "--save", "",
                "--appendonly", "no", "--bind", "127.0.0.1"]
    else:
        argv = [sys.executable, "-m", "redislet", "--port", str(port), "--save", "",
                "--bind", "127.0.0.1"]
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    log = open(os.path.join(workdir, "%s.log" % kind), "wb")
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (kind, proc.returncode))
        try:
            if command(port, "PING").startswith(b"+PONG"):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("%s did not start" % kind)
    # a subscriber that falls behind must not be disconnected mid-run
    command(port, "CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 0 0")
    return proc, log


def reader(port, nsubs, expected_bytes, conn):
    """Subprocess: nsubs subscribers; report 'ready', then the received byte count once
    every subscriber got expected_bytes (or on timeout)."""
    socks = []
    confirm_len = None
    for i in range(nsubs):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(encode(b"SUBSCRIBE", CHANNEL))
        want = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL), CHANNEL)
        got = recv_exact(s, len(want))
        if got != want:
            conn.send(("error", "bad subscribe reply %r" % got))
            return
        s.setblocking(False)
        socks.append(s)
    conn.send(("ready", None))
    sel = selectors.DefaultSelector()
    counts = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        counts[s] = 0
    pending = len(socks)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    deadline = time.monotonic() + 600
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                n = s.recv_into(view)
            except BlockingIOError:
                continue
            if n == 0:
                conn.send(("error", "subscriber disconnected after %d bytes" % counts[s]))
                return
            counts[s] += n
            if counts[s] >= expected_bytes:
                sel.unregister(s)
                pending -= 1
    conn.send(("done", sum(counts.values())))
    for s in socks:
        s.close()


def run_case(port, nsubs, n, pipeline, payload):
    msg_len = len(b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(CHANNEL), CHANNEL, len(payload), payload))
    parent, child = mp.Pipe()
    proc = mp.Process(target=reader, args=(port, nsubs, n * msg_len, child), daemon=True)
    proc.start()
    status, info = parent.recv()
    if status != "ready":
        proc.join(5)
        raise RuntimeError(info)
    reply = b":%d\r\n" % nsubs
    pub = socket.create_connection(("127.0.0.1", port), timeout=60)
    pub.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    one = encode(b"PUBLISH", CHANNEL, payload)
    t0 = time.perf_counter()
    sent = 0
    while sent < n:
        k = min(pipeline, n - sent)
        pub.sendall(one * k)
        got = recv_exact(pub, len(reply) * k)
        if got != reply * k:
            raise RuntimeError("unexpected PUBLISH replies: %r" % got[:80])
        sent += k
    t_pub = time.perf_counter() - t0
    status, info = parent.recv()
    t_all = time.perf_counter() - t0
    pub.close()
    proc.join(10)
    if status != "done":
        raise RuntimeError(info)
    if info != n * nsubs * msg_len:
        raise RuntimeError("received %d bytes, expected %d" % (info, n * nsubs * msg_len))
    return {"publish_s": t_pub, "total_s": t_all, "pub_rate": n / t_all,
            "deliver_rate": n * nsubs / t_all}


def measure(subs=(1,), n=20000, pipeline=50, size=16, rounds=1, verbose=True):
    """{(kind, nsubs): best run_case result} for kind in redis, redislet."""
    payload = b"x" * size
    results = {}
    with tempfile.TemporaryDirectory(prefix="pubsub-bench-") as tmp:
        for kind in ("redis", "redislet"):
            port = free_port()
            proc, log = start_server(kind, port, tmp)
            try:
                run_case(port, 1, min(n, 2000), pipeline, payload)     # warm up
                for ns in subs:
                    best = None
                    for _ in range(rounds):
                        res = run_case(port, ns, n, pipeline, payload)
                        if best is None or res["total_s"] < best["total_s"]:
                            best = res
                    results[kind, ns] = best
                    if verbose:
                        print("%-9s subs=%-4d publishes/s %9.0f  deliveries/s %10.0f  "
                              "(%.2fs, publisher done after %.2fs)" % (
                                  kind, ns, best["pub_rate"], best["deliver_rate"],
                                  best["total_s"], best["publish_s"]), file=sys.stderr)
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                log.close()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20000, help="PUBLISH commands per case")
    ap.add_argument("-P", "--pipeline", type=int, default=50)
    ap.add_argument("--subs", default="1,10,100", help="subscriber counts")
    ap.add_argument("--size", type=int, default=16, help="payload bytes")
    ap.add_argument("--rounds", type=int, default=1, help="runs per case; the best is kept")
    args = ap.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    subs = [int(x) for x in args.subs.split(",")]
    results = measure(subs, args.n, args.pipeline, args.size, args.rounds)
    print()
    print("PUBLISH to S subscribers, n=%d per case, pipeline %d, %d-byte payload" % (
        args.n, args.pipeline, args.size))
    print("%6s %14s %14s %16s %16s %7s" % ("subs", "redis pub/s", "redislet pub/s",
                                          "redis deliv/s", "redislet deliv/s", "ratio"))
    for ns in subs:
        a, b = results["redis", ns], results["redislet", ns]
        print("%6d %14.0f %14.0f %16.0f %16.0f %7.2f" % (
            ns, a["pub_rate"], b["pub_rate"], a["deliver_rate"], b["deliver_rate"],
            b["pub_rate"] / a["pub_rate"]))


if __name__ == "__main__":
    main()
