# The compiled build's sorted set value (see redislet/_build.py).
from redislet.types.sortedkeys cimport SortedKeys

cdef class ZSet:
    cdef public dict dict
    cdef public SortedKeys order
    cdef public object listpack

    cpdef insert(self, member, score)
    cpdef set_score(self, member, old, new)
