# The compiled build's sorted set value (see redislet/_build.py).
cdef class ZSet:
    cdef public dict dict
    cdef public object order, listpack

    cpdef insert(self, member, score)
    cpdef set_score(self, member, old, new)
