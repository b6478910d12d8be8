#!/usr/bin/env python3
"""Sorted-set operations on a 1,000,000-member zset: redislet vs real Redis (issue 5).

    python bench/zset_large.py [--members 1000000] [--small 1000] [--budget 2.5] [--batch 1000]

Starts redis-server and redislet (`python -m redislet` from this checkout) on free ports of
127.0.0.1 with no persistence, loads the same sorted set into both (pipelined ZADDs of
--load-chunk members each, random scores, fixed seed), checks that both hold the same
data, then measures on the full set, each case pipelined --batch commands per round trip
and bounded by --budget seconds (or --max-ops commands):

    ZADD new      ZADD big <score> <new member>         (one member per command)
    ZREM          ZREM big <member>                     (removes the members ZADD new added)
    ZADD update   ZADD big <score> <existing member>
    ZRANGE        ZRANGE big <start> <start+9>          (random start)
    ZRANGEBYSCORE ZRANGEBYSCORE big <min> <max> LIMIT 0 10  (random window of ~20 members)
    ZRANK         ZRANK big <random member>
    ZSCORE        ZSCORE big <random member>

ZADD new and ZREM alternate batch by batch, so the set stays between N and N+batch members.
The same cases run on a --small member zset (skiplist encoded too: more than
zset-max-listpack-entries) to show the per-operation cost at N versus at 1k: with O(log n)
operations it grows by a small factor (a few cache misses), not by N/1k.

Prints a table of ops/s per server with the ratio redislet/Redis, then the per-op time
(us, = 1/throughput) at both sizes. The client is Python with hiredis's reply parser and
pre-encoded commands; for Redis it can be the bottleneck on the cheap cases, so the
Redis figures there are lower bounds. Machines are shared and noisy: compare ratios.
"""
import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import hiredis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_SERVER = "/usr/bin/redis-server"
SCORE_RANGE = 1_000_000.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """A raw pipelining connection: send pre-encoded commands, read n replies."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()

    def pipeline(self, payload, n):
        """Send payload (n encoded commands), return the list of n replies."""
        self.sock.sendall(payload)
        reader = self.reader
        recv = self.sock.recv
        out = []
        while len(out) < n:
            r = reader.gets()
            if r is False:
                data = recv(1 << 20)
                if not data:
                    raise ConnectionError("server closed the connection")
                reader.feed(data)
                continue
            out.append(r)
        return out

    def call(self, *args):
        return self.pipeline(enc(*args), 1)[0]

    def close(self):
        self.sock.close()


def start(kind, port, workdir):
    if kind == "redis":
        argv = [REDIS_SERVER, "--port", str(port), "--save", "", "--appendonly", "no",
                "--bind", "127.0.0.1", "--dir", workdir]
        cwd = workdir
    else:
        argv = [sys.executable, "-m", "redislet", "--port", str(port), "--save", "",
                "--appendonly", "no", "--bind", "127.0.0.1", "--dir", workdir]
        cwd = ROOT
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        if p.poll() is not None:
            sys.exit("%s exited at startup (rc %s)" % (kind, p.returncode))
        try:
            c = Conn(port)
            if c.call("PING") == b"PONG":
                return p, c
            c.close()
        except OSError:
            time.sleep(0.1)
    p.kill()
    sys.exit("%s on %d did not start" % (kind, port))


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def human(n):
    for div, suffix in ((1_000_000, "M"), (1000, "k")):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, suffix)
    return str(n)


def member(i):
    return b"m:%d" % i


def gen_scores(n, seed):
    rnd = random.Random(seed)
    return [rnd.random() * SCORE_RANGE for _ in range(n)]


def load(conn, key, scores, chunk, per_trip=8):
    """ZADD key with members m:0..m:n-1, chunk pairs per command, per_trip commands per
    round trip. Returns seconds."""
    n = len(scores)
    payloads = []
    i = 0
    while i < n:
        cmds = []
        for _ in range(per_trip):
            if i >= n:
                break
            args = [b"ZADD", key]
            for j in range(i, min(i + chunk, n)):
                args.append(repr(scores[j]).encode())
                args.append(member(j))
            cmds.append(enc(*args))
            i += chunk
        payloads.append((b"".join(cmds), len(cmds)))
    t0 = time.perf_counter()
    for payload, k in payloads:
        for r in conn.pipeline(payload, k):
            if isinstance(r, hiredis.ReplyError):
                raise RuntimeError("load failed: %s" % r)
    return time.perf_counter() - t0


# -- cases: each builds batches of (payload, count) from a seeded RNG, identical for both
#    servers.

def batches_random(n_batches, batch, make):
    out = []
    for _ in range(n_batches):
        out.append((b"".join(make() for _ in range(batch)), batch))
    return out


def build_cases(key, n, batch, n_batches, seed):
    rnd = random.Random(seed)
    rr = rnd.random
    ri = rnd.randrange
    key_s = key
    cases = {}

    # ZADD new / ZREM: batch b adds members new:b:0..batch-1, then removes them.
    add, rem = [], []
    for b in range(n_batches):
        names = [b"new:%d:%d" % (b, j) for j in range(batch)]
        add.append((b"".join(enc(b"ZADD", key_s, repr(rr() * SCORE_RANGE), m) for m in names), batch))
        rem.append((b"".join(enc(b"ZREM", key_s, m) for m in names), batch))
    cases["ZADD new"] = add
    cases["ZREM"] = rem
    cases["ZADD update"] = batches_random(
        n_batches, batch,
        lambda: enc(b"ZADD", key_s, repr(rr() * SCORE_RANGE), member(ri(n))))
    cases["ZRANGE"] = batches_random(
        n_batches, batch,
        lambda: (lambda s: enc(b"ZRANGE", key_s, s, s + 9))(ri(max(1, n - 10))))
    width = 20 * SCORE_RANGE / n
    cases["ZRANGEBYSCORE"] = batches_random(
        n_batches, batch,
        lambda: (lambda lo: enc(b"ZRANGEBYSCORE", key_s, repr(lo), repr(lo + width),
                                b"LIMIT", b"0", b"10"))(rr() * SCORE_RANGE))
    cases["ZRANK"] = batches_random(
        n_batches, batch, lambda: enc(b"ZRANK", key_s, member(ri(n))))
    cases["ZSCORE"] = batches_random(
        n_batches, batch, lambda: enc(b"ZSCORE", key_s, member(ri(n))))
    return cases


CASE_ORDER = ["ZADD new", "ZREM", "ZADD update", "ZRANGE", "ZRANGEBYSCORE", "ZRANK", "ZSCORE"]


def run_cases(conn, cases, budget):
    """Returns {case: ops/s}. ZADD new and ZREM alternate batch by batch (same budget)."""
    res = {}

    def check(replies, name):
        r = replies[0]
        if isinstance(r, hiredis.ReplyError):
            raise RuntimeError("%s failed: %s" % (name, r))

    # ZADD new + ZREM interleaved
    t_add = t_rem = 0.0
    ops = 0
    perf = time.perf_counter
    for (pa, k), (pr, _) in zip(cases["ZADD new"], cases["ZREM"]):
        t0 = perf()
        rep = conn.pipeline(pa, k)
        t1 = perf()
        conn.pipeline(pr, k)
        t2 = perf()
        check(rep, "ZADD new")
        t_add += t1 - t0
        t_rem += t2 - t1
        ops += k
        if t_add + t_rem >= 2 * budget:
            break
    res["ZADD new"] = ops / t_add
    res["ZREM"] = ops / t_rem

    for name in CASE_ORDER[2:]:
        ops = 0
        t_total = 0.0
        for payload, k in cases[name]:
            t0 = perf()
            rep = conn.pipeline(payload, k)
            t_total += perf() - t0
            check(rep, name)
            ops += k
            if t_total >= budget:
                break
        res[name] = ops / t_total
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--budget", type=float, default=2.5, help="seconds per case and server")
    ap.add_argument("--batch", type=int, default=1000, help="commands per round trip")
    ap.add_argument("--max-ops", type=int, default=200_000, help="cap per case and server")
    ap.add_argument("--load-chunk", type=int, default=1000, help="members per load ZADD")
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()

    n_batches = max(1, a.max_ops // a.batch)
    workdir = tempfile.mkdtemp(prefix="zset-bench-")
    procs = {}
    conns = {}
    try:
        for kind in ("redis", "redislet"):
            procs[kind], conns[kind] = start(kind, free_port(), workdir)
        base_rss = {k: rss_mb(p.pid) for k, p in procs.items()}

        print("generating %d scores..." % a.members, file=sys.stderr)
        big_scores = gen_scores(a.members, a.seed)
        small_scores = gen_scores(a.small, a.seed + 1)

        load_s = {}
        for kind, c in conns.items():
            print("loading %s..." % kind, file=sys.stderr)
            load_s[kind] = load(c, b"big", big_scores, a.load_chunk)
            load(c, b"small", small_scores, a.load_chunk)
            for key, want in ((b"big", a.members), (b"small", a.small)):
                got = c.call("ZCARD", key)
                if got != want:
                    sys.exit("%s: ZCARD %s = %r, expected %d" % (kind, key, got, want))
        del big_scores
        # same data on both: compare a few slices byte for byte
        for args in (("ZRANGE", "big", 0, 9, "WITHSCORES"),
                     ("ZRANGE", "big", a.members // 2, a.members // 2 + 9, "WITHSCORES"),
                     ("ZRANGE", "big", -10, -1, "WITHSCORES"),
                     ("OBJECT", "ENCODING", "small")):
            ra, rb = (conns[k].call(*args) for k in ("redis", "redislet"))
            if ra != rb:
                sys.exit("mismatch on %r: redis %r, redislet %r" % (args, ra, rb))
        loaded_rss = {k: rss_mb(p.pid) for k, p in procs.items()}

        results = {}   # (size, kind) -> {case: ops/s}
        for size, key, n in (("big", b"big", a.members), ("small", b"small", a.small)):
            cases = build_cases(key, n, a.batch, n_batches, a.seed + 2)
            for kind in ("redis", "redislet"):
                print("measuring %s on %d members..." % (kind, n), file=sys.stderr)
                results[size, kind] = run_cases(conns[kind], cases, a.budget)
            del cases
        for key, want in ((b"big", a.members), (b"small", a.small)):
            for kind, c in conns.items():
                got = c.call("ZCARD", key)
                if got != want:
                    sys.exit("%s: ZCARD %s = %r after the run, expected %d" % (kind, key, got, want))
        final_rss = {k: rss_mb(p.pid) for k, p in procs.items()}
    finally:
        for c in conns.values():
            c.close()
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    n = a.members
    print()
    print("Sorted set with %s members, pipelined %d commands per round trip, "
          "<= %.1f s or %d ops per case" % (format(n, ","), a.batch, a.budget, a.max_ops))
    print()
    print("%-16s %14s %14s %8s" % ("load", "redis s", "redislet s", "ratio"))
    print("%-16s %14.2f %14.2f %8.2f   (redislet/redis time; %s members/s for redislet)" % (
        "ZADD x%d" % a.load_chunk, load_s["redis"], load_s["redislet"],
        load_s["redislet"] / load_s["redis"], format(int(n / load_s["redislet"]), ",")))
    print("%-16s %14.0f %14.0f %8.2f   (RSS growth MB after load, redislet/redis)" % (
        "memory", loaded_rss["redis"] - base_rss["redis"],
        loaded_rss["redislet"] - base_rss["redislet"],
        (loaded_rss["redislet"] - base_rss["redislet"]) /
        max(1e-9, loaded_rss["redis"] - base_rss["redis"])))
    print()
    print("%-16s %14s %14s %8s" % ("at %s" % format(n, ","), "redis ops/s", "redislet ops/s",
                                   "ratio"))
    for name in CASE_ORDER:
        rr_, rl = results["big", "redis"][name], results["big", "redislet"][name]
        print("%-16s %14s %14s %8.2f" % (name, format(int(rr_), ","), format(int(rl), ","),
                                         rl / rr_))
    print()
    print("per-op time (us) at %s vs %s members (growth = big/small; linear would be %s x)" % (
        format(a.small, ","), format(n, ","), format(n // a.small, ",")))
    print("%-16s %10s %10s %8s   %10s %10s %8s" % (
        "", "redislet", "redislet", "", "redis", "redis", ""))
    print("%-16s %10s %10s %8s   %10s %10s %8s" % (
        "op", human(a.small), human(n), "growth", human(a.small), human(n), "growth"))
    for name in CASE_ORDER:
        row = []
        for kind in ("redislet", "redis"):
            us_s = 1e6 / results["small", kind][name]
            us_b = 1e6 / results["big", kind][name]
            row += [us_s, us_b, us_b / us_s]
        print("%-16s %10.2f %10.2f %7.2fx   %10.2f %10.2f %7.2fx" % (name, *row))
    print()
    print("RSS MB at the end: redis %.0f, redislet %.0f (together %.0f)" % (
        final_rss["redis"], final_rss["redislet"], final_rss["redis"] + final_rss["redislet"]))


if __name__ == "__main__":
    main()
