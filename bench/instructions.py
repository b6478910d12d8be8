#!/usr/bin/env python3
"""User-space instructions per request, redislet vs real Redis: a load-independent view of
the CPU cost of each command (valgrind's callgrind counts instructions, not seconds, so
the figure does not move with the machine's load).

    python bench/instructions.py [--tests set,get,...] [-n 20000] [-P 16] [-c 50]

Each server (Debian's redis-server, then redislet as `python -m redislet`) runs under
`valgrind --tool=callgrind` on a free port of 127.0.0.1. Per test: zero the counters
(callgrind_control -z), run redis-benchmark against it, dump the counters
(callgrind_control -d) and divide the total by the number of requests. The count covers
everything the server process executes in user space for those requests (parsing,
dispatch, the command, the reply, the event loop's share, libc), and no kernel time
(system calls cost both servers about the same). redis-benchmark's own setup requests
(CONFIG GET) are a few among thousands.

Instructions are not time: Redis's C code retires more instructions per cycle than an
interpreter, so the time ratio is usually somewhat better than the instruction ratio. Use
this to see where a change moves the cost, and bench/run.py for the rates.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evalsha_bench import SCRIPT as EVALSHA_SCRIPT, command, free_port, wait_ready  # noqa: E402
XADD = ["XADD", "mystream", "*", "myfield", "myvalue"]


def python_binary():
    """The interpreter itself (pyenv's `python` is a shell shim valgrind would trace)."""
    return os.path.realpath(sys.executable)


def total_instructions(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in " + path)


def measure(kind, tests, n, pipeline, clients, workdir):
    port = free_port()
    out = os.path.join(workdir, kind + ".%p")
    if kind == "redis":
        server = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                  "--dir", workdir]
    else:
        server = [python_binary(), "-m", "redislet", "--port", str(port), "--save", "",
                  "--appendonly", "no", "--dir", workdir]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
                            + server, env=env, cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    results = {}
    try:
        wait_ready(port, timeout=300)      # (the interpreter starts slowly under valgrind)
        sha = command(port, b"SCRIPT", b"LOAD", EVALSHA_SCRIPT).split(b"\r\n")[1].decode()
        for test in tests:
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                           capture_output=True)
            before = set(glob.glob(os.path.join(workdir, kind + ".%d*" % proc.pid)))
            if test == "xadd":
                args = XADD
            elif test == "evalsha":
                args = ["EVALSHA", sha, "1", "key"]
            else:
                args = ["-t", test]
            subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-c",
                            str(clients), "-P", str(pipeline), "-r", "100000", "-q"] + args,
                           check=True, capture_output=True)
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                           capture_output=True)
            dumps = set(glob.glob(os.path.join(workdir, kind + ".%d.*" % proc.pid)))
            new = sorted(dumps - before, key=os.path.getmtime)
            results[test] = total_instructions(new[-1]) / n
            print("  %-8s %-9s %8.0f instructions/request" % (kind, test, results[test]),
                  file=sys.stderr)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", default="set,get,incr,lpush,lpop,sadd,hset,zadd,xadd,"
                                        "lrange_100,mset,evalsha")
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-P", dest="pipeline", type=int, default=16)
    ap.add_argument("-c", dest="clients", type=int, default=50)
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            sys.exit("%s not found (apt-get install valgrind redis-server redis-tools)" % tool)
    tests = args.tests.split(",")
    with tempfile.TemporaryDirectory(prefix="redislet-instr-") as wd:
        redis = measure("redis", tests, args.n, args.pipeline, args.clients, wd)
        rl = measure("redislet", tests, args.n, args.pipeline, args.clients, wd)
    print("user-space instructions per request, -P %d -c %d -n %d"
          % (args.pipeline, args.clients, args.n))
    print("%-10s %10s %10s %8s" % ("test", "redis", "redislet", "ratio"))
    for t in tests:
        print("%-10s %10.0f %10.0f %8.2f" % (t, redis[t], rl[t], rl[t] / redis[t]))


if __name__ == "__main__":
    main()
