# The compiled build's Command (see redislet/_build.py): its slots as C fields, the
# counters and the flags the dispatcher reads as C integers.
cdef class Command:
    cdef public object name, fullname, bname, handler, flags, acl, key_specs
    cdef public object tips, spec, subcommands, parent, getkeys, first_key, last_key
    cdef public object key_step, movablekeys, is_readonly, denyoom, no_auth
    cdef public object no_multi, stale, loading, pubsub, admin, noscript, blocking
    cdef public object may_replicate, allow_busy, skip_monitor, skip_slowlog, fast
    cdef public Py_ssize_t arity
    cdef public bint needs_check, is_write
    cdef public long long calls, usec
    cdef public object rejected_calls, failed_calls, protected, lat_big
    cdef public list lat
    cdef public object cluster_kind
