/* The smallest real extension module: the native-code fixtures build it with
   gcc at test time (tests/integration/native.rs) and then patch or cut copies
   of it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *hello(PyObject *self, PyObject *args) {
    return PyUnicode_FromString("hello");
}

static PyMethodDef methods[] = {
    {"hello", hello, METH_NOARGS, "Say hello."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hello", NULL, -1, methods};

PyMODINIT_FUNC PyInit__hello(void) { return PyModule_Create(&module); }
