# C types for the compiled build of encodings.py (see redislet/_build.py): positions and
# byte values as C integers, the buffers read through typed views. Only the loops that
# profiles put at the top of RDB load and save.
import cython

@cython.locals(d="const unsigned char[:]", n=Py_ssize_t, p=Py_ssize_t, last=Py_ssize_t,
               b=int, e=Py_ssize_t, ln=Py_ssize_t, q=Py_ssize_t, v=long, bl=Py_ssize_t,
               chars="const char *")
cpdef list lp_decode(bytes buf, bint check_count=*, bint strict_end=*)

@cython.locals(n=Py_ssize_t, head=list, tail=list, small=list)
cpdef lp_entries(elements, list parts)

@cython.locals(v="const unsigned char[:]", want=Py_ssize_t, i=Py_ssize_t, b=int,
               e=Py_ssize_t, w=Py_ssize_t, k=Py_ssize_t, left=Py_ssize_t, chars="const char *")
cpdef Py_ssize_t read_string_run(bytes d, Py_ssize_t p, Py_ssize_t end, Py_ssize_t n,
                                 list out) except -1

@cython.locals(v="const unsigned char[:]", i=Py_ssize_t, b=int, q=Py_ssize_t,
               chars="const char *")
cpdef Py_ssize_t read_scored_run(bytes d, Py_ssize_t p, Py_ssize_t end, Py_ssize_t n,
                                 list members, list scores) except -1

@cython.locals(view="const unsigned char[:]", n=Py_ssize_t, b=int, q=Py_ssize_t,
               e=Py_ssize_t, chars="const char *")
cpdef tuple read_string_pairs(bytes data, Py_ssize_t p, Py_ssize_t stop, d)

@cython.locals(x=bytes, n=Py_ssize_t, len1=list, out=list, lens=list)
cpdef bytes enc_strings(strings, bint compress, after=*)

@cython.locals(n=Py_ssize_t, lo=long, hi=long, v=long, w=Py_ssize_t, tag=int,
               out=bytearray, j=Py_ssize_t, k=Py_ssize_t)
cpdef enc_ints_one_width(strings)

@cython.locals(n=Py_ssize_t, chars="const unsigned char *", v=long, d=long, i=Py_ssize_t)
cdef long _canon_uint31(x) except? -2
