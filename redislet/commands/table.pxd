# The compiled build's Command (see redislet/_build.py): its slots as C fields, the
# counters the dispatcher adds to as C integers.
cdef class Command:
    cdef public object name, fullname, bname, handler, arity, flags, acl, key_specs
    cdef public object tips, spec, subcommands, parent, getkeys, first_key, last_key
    cdef public object key_step, movablekeys, is_write, is_readonly, denyoom, no_auth
    cdef public object no_multi, stale, loading, pubsub, admin, noscript, blocking
    cdef public object may_replicate, allow_busy, skip_monitor, skip_slowlog, fast
    cdef public long long calls, usec
    cdef public object rejected_calls, failed_calls, protected, lat, lat_big
    cdef public object needs_check, cluster_kind
