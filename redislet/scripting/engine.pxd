# The compiled build's script runner (see redislet/_build.py): the run context and the
# engine's fields that redis.call reads are C struct fields.
from redislet.client cimport Client
from redislet.server cimport RedisServer
from redislet.commands.table cimport Command

cdef class RunCtx:
    cdef public object caller, name, eval_mode, ro, allow_oom, write_dirty, killed
    cdef public object timedout, start, snapshot, repl, oom, yieldable, argv
    cdef public object saved_ready, engine, obey, own_batch, cross_slot

cdef class LuaEngine:
    cdef dict __dict__
    cdef public RedisServer srv
    cdef public Client fc
    cdef public RunCtx ctx
    cdef public object dbg, cluster_check, hook_switched, busy, api, worker
    cdef public object _saved_time_ms, _last_yield, eval_mode
