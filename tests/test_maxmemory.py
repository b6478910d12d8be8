"""maxmemory with the noeviction policy: processCommand's OOM rejections, compared with
real Redis byte for byte (used memory is far above 1 byte on both servers)."""


def test_oom_rejections_like_redis(both):
    both("SET", "a", "1")
    both("RPUSH", "l", "x")
    try:
        both("CONFIG", "SET", "maxmemory", "1")
        both("SET", "b", "1")            # deny-oom: refused
        both("GET", "a")                 # reads still work
        both("DEL", "a")                 # DEL is not deny-oom
        both("LPOP", "l")
        both("MULTI")
        both("SET", "x", "1")            # anything queued is refused while OOM
        both("GET", "x")
        both("EXEC")                     # EXECABORT
        both("MULTI")
        both("DISCARD")                  # DISCARD never fails
        both("CONFIG", "SET", "maxmemory-policy", "noeviction")
    finally:
        both("CONFIG", "SET", "maxmemory", "0")
    both("SET", "b", "1")


def test_multi_queued_before_oom_then_exec(both):
    both("MULTI")
    both("SET", "k", "v")
    try:
        both("CONFIG", "SET", "maxmemory", "1")   # queued, not run: no OOM yet
        both("EXEC")
        both("GET", "k")
    finally:
        both("CONFIG", "SET", "maxmemory", "0")
