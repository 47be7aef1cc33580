/* An extension module that never calls OpenSSL: a checksum, as crcmod computes. */
#include <Python.h>

static PyObject *checksum(PyObject *self, PyObject *args) {
    const unsigned char *data; Py_ssize_t size; unsigned long sum = 0;
    if (!PyArg_ParseTuple(args, "y#", &data, &size)) return NULL;
    for (Py_ssize_t i = 0; i < size; i++) sum = (sum * 31 + data[i]) & 0xFFFFFFFFUL;
    return PyLong_FromUnsignedLong(sum);
}

static PyMethodDef methods[] = {{"checksum", checksum, METH_VARARGS, NULL}, {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_plain", NULL, -1, methods};
PyMODINIT_FUNC PyInit__plain(void) { return PyModule_Create(&module); }
