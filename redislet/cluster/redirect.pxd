# The compiled build's cluster-mode client (see redislet/_build.py): Client's dispatcher
# with the slot check, typed as Client.run is.
import cython
from redislet.client cimport Client
from redislet.server cimport RedisServer
from redislet.commands.table cimport Command

cdef class ClusterClient(Client):
    @cython.locals(srv=RedisServer, dispatch=dict, cmd=Command, t0='long long', t1='long long',
                   dt='long long', n=Py_ssize_t, a=Py_ssize_t, cmds=list, argv=list,
                   i=Py_ssize_t, dirty='long long')
    cpdef run(self, cmds)
