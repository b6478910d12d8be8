# The compiled build's Client (see redislet/_build.py): the fields the dispatcher and the
# write path read are C struct fields; any other attribute lives in the instance __dict__.
import cython
from redislet.commands.table cimport Command
from redislet.server cimport RedisServer
from redislet.db cimport Database
from redislet.resp.parser cimport RequestParser

cdef class Client:
    cdef dict __dict__
    cdef public RedisServer server
    cdef public Database db
    cdef public list out
    cdef public bint closing, closed, paused, checks, mem_live, wpaused, flush_scheduled
    cdef public int reply_mode
    cdef public RequestParser parser
    cdef public object transport, pending, blocked, prop_override, obuf_class, in_exec
    cdef public object buf_peak, rbs, subscribed
    cdef public object last_cmd, multi, tracking, r
    cdef public object woff, skip_error_stats, flags_extra
    cdef public object resp, authenticated, last_interaction, qb_peak, qb_big

    @cython.locals(srv=RedisServer, dispatch=dict, cmd=Command, out_append=object,
                   t0='long long', t1='long long', dt='long long', n=Py_ssize_t,
                   a=Py_ssize_t, cmds=list, argv=list, i=Py_ssize_t, dirty='long long')
    cpdef run(self, cmds)

    @cython.locals(srv=RedisServer, cmd=Command, t0='long long', dt='long long',
                   dirty='long long')
    cpdef call(self, cmd, argv)

    cpdef write(self, data)
    cpdef flush_later(self)
    cpdef flush(self)
