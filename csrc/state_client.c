/* The clients' side of the run-time state (state.h): linked, instead of cpu.c and
 * blocking.c, into the extensions that read the state but do not own it (_cconv, _cy_blocked,
 * _cy_prange). It defines the two functions of ladder.h that their code calls,
 * ladder_active_isa and ladder_blocked_tiles, as calls through _ckernels's table.
 *
 * Every symbol here is hidden: the extension does not export them, so they can neither be
 * taken for _ckernels's own (were the extensions loaded with RTLD_GLOBAL) nor shadow them. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility push(hidden)
#endif
#include "state.h"

/* Written once, at module init, before any kernel of the module runs; read-only after. */
static const ladder_state_api *owner;

int ladder_state_import(const char *module, int required)
{
    PyObject *owner_module = PyImport_ImportModule(LADDER_STATE_MODULE);
    PyObject *capsule = owner_module ? PyObject_GetAttrString(owner_module, LADDER_STATE_ATTR)
                                     : NULL;
    Py_XDECREF(owner_module);
    const ladder_state_api *table =
        capsule ? (const ladder_state_api *)PyCapsule_GetPointer(capsule, LADDER_STATE_CAPSULE)
                : NULL;
    Py_XDECREF(capsule); /* the module keeps it; the table is static in _ckernels */
    if (!table) {
        if (!required) {
            PyErr_Clear();
            return 0;
        }
#if PY_VERSION_HEX >= 0x030C0000
        PyObject *cause = PyErr_GetRaisedException();
#else
        PyObject *type, *cause, *traceback;
        PyErr_Fetch(&type, &cause, &traceback);
        PyErr_NormalizeException(&type, &cause, &traceback);
        Py_XDECREF(type);
        Py_XDECREF(traceback);
#endif
        PyErr_Format(PyExc_ImportError,
                     "%s reads its run-time state from " LADDER_STATE_MODULE ", the one owner "
                     "of the ISA and block sizes, which did not import: %S",
                     module, cause ? cause : Py_None);
        Py_XDECREF(cause);
        return -1;
    }
    if (table->version != LADDER_STATE_VERSION) {
        PyErr_Format(PyExc_ImportError,
                     "%s and " LADDER_STATE_MODULE " were built from different versions of "
                     "csrc/state.h (table %d, expected %d): rebuild the package",
                     module, table->version, LADDER_STATE_VERSION);
        return -1;
    }
    owner = table;
    return 0;
}

int ladder_active_isa(void)
{
    return owner ? owner->active_isa() : LADDER_ISA_NONE;
}

ladder_tiles ladder_blocked_tiles(size_t elem)
{
    /* Only modules that required the owner call this, and they do not load without it. */
    return owner->blocked_tiles(elem);
}

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility pop
#endif
