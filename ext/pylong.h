/* pylong.h: a Python int as a uint64 member candidate, without raising (bitmap.pxi's
   membership tests and constructors). Included into ext/_roaring.c; needs the GIL. */
#ifndef ROARBASE_PYLONG_H
#define ROARBASE_PYLONG_H

#include <Python.h>
#include <stdint.h>

/* o is an exact int: 1 with *out = o when 0 <= o < 2**64, else 0 (no error left) */
static inline int rb_int_as_u64(PyObject* o, uint64_t* out) {
    int overflow = 0;
    long long s = PyLong_AsLongLongAndOverflow(o, &overflow);
    unsigned long long v;
    if (overflow == 0) {                  /* the common case: no error is possible */
        if (s < 0) return 0;
        *out = (uint64_t)s;
        return 1;
    }
    if (overflow < 0) return 0;
    v = PyLong_AsUnsignedLongLong(o);     /* 2**63 <= o: fits unless >= 2**64 */
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

#endif /* ROARBASE_PYLONG_H */
