# C types for the compiled build of scan.py (see redislet/_build.py): the hash arithmetic
# of the snapshot's one O(N) loop in C integers (hash + 2**63 wraps as unsigned, which is
# the .py's exact value since hash() is in [-2**63, 2**63)).
import cython

@cython.locals(off=cython.ulonglong)
cpdef list deal(keys, int sh, Py_ssize_t nbuckets)
