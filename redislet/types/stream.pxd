# The compiled build's stream value and its parts (see redislet/_build.py): the counters
# as C integers, append (XADD's path) a C call.
import cython

cdef class Node:
    cdef public object master, mfields, mms, mseq
    cdef public list ids, entries
    cdef public Py_ssize_t live, deleted, nbytes

cdef class NACK:
    cdef public object delivery_time, delivery_count, consumer

cdef class Consumer:
    cdef public object name, seen_time, pel

cdef class Group:
    cdef public object last_id, entries_read, pel, consumers

cdef class Stream:
    cdef public list nodes, keys
    cdef public Py_ssize_t length
    cdef public object last_id, first_id, max_deleted, entries_added, groups

    @cython.locals(node=Node, nodes=list, live=Py_ssize_t, n=Py_ssize_t, k=Py_ssize_t)
    cpdef append(self, idk, fv, Py_ssize_t totlen, max_entries, max_bytes)
