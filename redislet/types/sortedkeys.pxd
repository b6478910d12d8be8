# The compiled build's sorted set index (see redislet/_build.py): the sublists and the
# Fenwick tree as typed lists, the counts and positions as C integers.
import cython

@cython.locals(lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t, k=bytes)
cdef Py_ssize_t _left(list keys, bytes key) except -1

@cython.locals(lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t, k=bytes)
cdef Py_ssize_t _right(list keys, bytes key) except -1

cdef class SortedKeys:
    cdef public list lists, maxes, tree
    cdef public Py_ssize_t n, load

    @cython.locals(maxes=list, lists=list, lst=list, k=Py_ssize_t, pos=Py_ssize_t)
    cpdef add(self, key)

    @cython.locals(pos=Py_ssize_t, i=Py_ssize_t)
    cpdef remove(self, key)

    @cython.locals(maxes=list, lst=list, pos=Py_ssize_t, i=Py_ssize_t)
    cdef (Py_ssize_t, Py_ssize_t) _find(self, key) except *

    @cython.locals(lists=list, lst=list)
    cdef _delete(self, Py_ssize_t pos, Py_ssize_t i)

    @cython.locals(lists=list, maxes=list, lst=list, a=Py_ssize_t)
    cdef _merge(self, Py_ssize_t pos)

    @cython.locals(lists=list, maxes=list, lst=list, half=list, load=Py_ssize_t)
    cdef _split(self, Py_ssize_t pos)

    @cython.locals(tree=list, k=Py_ssize_t, i=Py_ssize_t)
    cdef _tree_add(self, Py_ssize_t pos, Py_ssize_t delta)

    @cython.locals(lists=list, tree=list, k=Py_ssize_t, i=Py_ssize_t, j=Py_ssize_t)
    cdef _build_tree(self)

    @cython.locals(tree=list, total=Py_ssize_t, i=Py_ssize_t)
    cdef Py_ssize_t _before(self, Py_ssize_t pos) except -1

    @cython.locals(lists=list, tree=list, k=Py_ssize_t, pos=Py_ssize_t, step=Py_ssize_t,
                   nxt=Py_ssize_t, t=Py_ssize_t)
    cdef (Py_ssize_t, Py_ssize_t) _locate(self, Py_ssize_t index) except *

    @cython.locals(maxes=list, pos=Py_ssize_t)
    cpdef Py_ssize_t bisect_left(self, key) except -1

    @cython.locals(maxes=list, pos=Py_ssize_t)
    cpdef Py_ssize_t bisect_right(self, key) except -1

    @cython.locals(pos=Py_ssize_t, i=Py_ssize_t)
    cpdef Py_ssize_t index(self, key) except -1
