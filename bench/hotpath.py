#!/usr/bin/env python3
"""Per-command cost of redislet's request path, in-process (no network): a client fed
pipelined commands through a fake transport. For profiling the dispatcher and handlers.

    python bench/hotpath.py [--profile] [--pipeline 16] [--n 200000]
"""
import argparse
import asyncio
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from redislet.client import Client            # noqa: E402
from redislet.commands import load_all         # noqa: E402
from redislet.config import Config             # noqa: E402
from redislet.server import RedisServer        # noqa: E402


class FakeTransport:
    def __init__(self):
        self.nbytes = 0

    def write(self, data):
        self.nbytes += len(data)

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 6379)}.get(name)

    def get_write_buffer_size(self):
        return 0

    def close(self):
        pass

    abort = close


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _rnd(i, _r=random.Random(1)):
    """A key number as redis-benchmark -r 100000 picks it (uniform over 100,000)."""
    return _r.randrange(100000)


TESTS = {
    "ping": lambda i: enc("PING"),
    "set": lambda i: enc("SET", "key:%012d" % _rnd(i), "xxx"),
    "get": lambda i: enc("GET", "key:%012d" % _rnd(i)),
    "incr": lambda i: enc("INCR", "counter:%012d" % _rnd(i)),
    "lpush": lambda i: enc("LPUSH", "mylist", "xxx"),
    "lpop": lambda i: enc("LPOP", "mylist"),
    "sadd": lambda i: enc("SADD", "myset", "element:%012d" % _rnd(i)),
    "hset": lambda i: enc("HSET", "myhash", "element:%012d" % _rnd(i), "xxx"),
    "zadd": lambda i: enc("ZADD", "myzset", str(i % 1000), "element:%012d" % _rnd(i)),
    # redis-benchmark's zadd: every score 0, so ties are ordered by member
    "zadd0": lambda i: enc("ZADD", "myzset0", "0", "element:%012d" % _rnd(i)),
    "xadd": lambda i: enc("XADD", "mystream", "*", "myfield", "myvalue"),
    # redis-benchmark's mset: ten keys, one random number for all (as __rand_int__ is)
    "mset": lambda i: enc("MSET", *(x for _ in range(10) for x in ("key:%012d" % _rnd(i),
                                                                   "xxx"))),
    # evalsha_bench.py's script (loaded by SCRIPT LOAD before the run)
    "evalsha": lambda i: enc("EVALSHA", EVALSHA_SHA, "1", "key"),
    "publish": lambda i: enc("PUBLISH", "chan", "hello"),
}
EVALSHA_SCRIPT = "return redis.call('INCR', KEYS[1])"
EVALSHA_SHA = __import__("hashlib").sha1(EVALSHA_SCRIPT.encode()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", "-P", type=int, default=16)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--repeat", type=int, default=1,
                    help="feed the same commands R times (for callgrind: the difference of "
                         "R=2 and R=1 is the request path alone; see bench/README.md)")
    args = ap.parse_args()
    load_all()
    cfg = Config()
    cfg.load(None, ["--save", ""])
    srv = RedisServer(cfg)
    srv.loop = asyncio.new_event_loop()
    c = Client(srv)
    c.connection_made(FakeTransport())
    c.data_received(enc("SCRIPT", "LOAD", EVALSHA_SCRIPT))
    sub = Client(srv)                 # one subscriber for the publish test
    sub.connection_made(FakeTransport())
    sub.data_received(enc("SUBSCRIBE", "chan"))
    ready = srv.loop._ready
    while ready:                      # the setup's own writes (clearing them instead would
        ready.popleft()._run()        # leave the client's flush scheduled for ever)
    for name in args.tests.split(","):
        gen = TESTS[name]
        batches = []
        for b in range(0, args.n, args.pipeline):
            batches.append(b"".join(gen(i) for i in range(b, b + args.pipeline)))
        feed = c.data_received
        ready = srv.loop._ready       # what the loop runs after the reads: the reply writes

        def run_pass():
            while ready:
                ready.popleft()._run()
        if args.profile:
            import cProfile
            import pstats
            pr = cProfile.Profile()
            pr.enable()
        t = time.perf_counter()
        for _ in range(args.repeat):
            for data in batches:
                feed(data)
                run_pass()
        dt = time.perf_counter() - t
        if args.profile:
            pr.disable()
            pstats.Stats(pr).sort_stats("tottime").print_stats(12)
        n = args.n * args.repeat
        print("%-6s %6.2f us/cmd  %8.0f cmd/s" % (name, dt / n * 1e6, n / dt))


if __name__ == "__main__":
    main()
