"""EVALSHA throughput: redislet vs real Redis 7.0.15, with redis-benchmark.

    python bench/evalsha_bench.py [-n 100000] [-c 50] [-P 1]

Loads `return redis.call('INCR', KEYS[1])` with SCRIPT LOAD on both servers, then runs
`redis-benchmark -n N -c C EVALSHA <sha> 1 key` against each and prints requests/s and the
ratio redislet / Redis.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = b"return redis.call('INCR', KEYS[1])"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server on %d did not start" % port)


def command(port, *args):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a)
                                                      for a in args))
        data = b""
        while not data.endswith(b"\r\n") or data.count(b"\r\n") < 2:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def bench(port, sha, n, c, pipeline):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-c", str(c),
                          "-P", str(pipeline), "-q", "EVALSHA", sha, "1", "key"],
                         capture_output=True, text=True, check=True).stdout
    m = re.findall(r"([\d.]+) requests per second", out.replace("\r", "\n"))
    return float(m[-1]) if m else 0.0


def measure(n=100000, c=50, pipeline=1):
    """Requests/s of EVALSHA on fresh Redis and redislet servers: {"redis": .., "redislet": ..}."""
    tmp = tempfile.mkdtemp()
    procs = []
    try:
        rport, lport = free_port(), free_port()
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--save", "",
                                       "--appendonly", "no", "--dir", tmp],
                                      stdout=subprocess.DEVNULL))
        env = dict(os.environ, PYTHONPATH=ROOT)
        procs.append(subprocess.Popen([sys.executable, "-m", "redislet", "--port", str(lport),
                                       "--save", "", "--dir", tmp],
                                      stdout=subprocess.DEVNULL, env=env))
        wait_ready(rport)
        wait_ready(lport)
        results = {}
        for name, port in (("redis", rport), ("redislet", lport)):
            reply = command(port, b"SCRIPT", b"LOAD", SCRIPT)
            sha = reply.split(b"\r\n")[1].decode()
            bench(port, sha, min(n, 5000), c, pipeline)     # warm up
            results[name] = bench(port, sha, n, c, pipeline)
        return results
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("-P", type=int, default=1)
    args = ap.parse_args()
    if not shutil.which("redis-benchmark") or not shutil.which("redis-server"):
        sys.exit("redis-server and redis-benchmark are needed (apt-get install redis-server)")
    results = measure(args.n, args.c, args.P)
    ratio = results["redislet"] / results["redis"] if results["redis"] else 0.0
    print("EVALSHA (%s) -n %d -c %d -P %d" % (SCRIPT.decode(), args.n, args.c, args.P))
    print("  redis     %10.0f requests/s" % results["redis"])
    print("  redislet  %10.0f requests/s" % results["redislet"])
    print("  ratio     %10.3f" % ratio)


if __name__ == "__main__":
    main()
