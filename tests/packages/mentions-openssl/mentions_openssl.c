/* A checksum of its own: a faster one could come from <openssl/evp.h>, but none is used. */
#include <Python.h>

static PyObject *checksum(PyObject *self, PyObject *args) {
    const unsigned char *data; Py_ssize_t size; unsigned long sum = 0;
    if (!PyArg_ParseTuple(args, "y#", &data, &size)) return NULL;
    for (Py_ssize_t i = 0; i < size; i++) sum = (sum * 31 + data[i]) & 0xFFFFFFFFUL;
    return PyLong_FromUnsignedLong(sum);
}

static PyMethodDef methods[] = {{"checksum", checksum, METH_VARARGS, NULL}, {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "mentions_openssl", NULL, -1, methods};
PyMODINIT_FUNC PyInit_mentions_openssl(void) { return PyModule_Create(&module); }
