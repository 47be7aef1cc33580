/* Stands in for a package that works on the interpreter's SSL objects with its own OpenSSL
   and so escapes the source scan: no copy of _ssl's layouts, no lookup of its types by name.
   It takes the SSL* out of the object it is given and hands it to the static copy, which does
   not own it; where that happens to survive, the write through a null pointer makes the
   misuse end at once the way it ends in production: in a crash. */
#include <Python.h>
#include <openssl/ssl.h>

static PyObject *touch(PyObject *self, PyObject *object) {
    SSL *foreign = *(SSL **)((char *)object + sizeof(PyObject) + sizeof(PyObject *));
    volatile int *nowhere = NULL;
    *nowhere = SSL_version(foreign);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {{"touch", touch, METH_O, NULL}, {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hook", NULL, -1, methods};
PyMODINIT_FUNC PyInit__hook(void) { return PyModule_Create(&module); }
