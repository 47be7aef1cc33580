/* Time-stamp requests: TS_REQ_new and TS_REQ_set_version come from whichever libcrypto.a
   the linker reads first. */
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/ts.h>

static PyObject *request_version(PyObject *self, PyObject *unused) {
    TS_REQ *request = TS_REQ_new();
    long version;
    if (request == NULL || !TS_REQ_set_version(request, 1)) return PyErr_NoMemory();
    version = TS_REQ_get_version(request);
    TS_REQ_free(request);
    return PyLong_FromLong(version);
}

/* From xmlsec's OpenSSL backend (libxmlsec1-openssl), declared here so that no header of it
   is needed: where it looks for trusted certificates. */
extern const unsigned char *xmlSecOpenSSLGetDefaultTrustedCertsFolder(void);

static PyObject *trusted_certs_folder(PyObject *self, PyObject *unused) {
    const unsigned char *folder = xmlSecOpenSSLGetDefaultTrustedCertsFolder();
    if (folder == NULL) Py_RETURN_NONE;
    return PyUnicode_FromString((const char *)folder);
}

static PyObject *openssl_version(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(OpenSSL_version(OPENSSL_VERSION));
}

static PyMethodDef methods[] = {{"request_version", request_version, METH_NOARGS, NULL},
                                {"openssl_version", openssl_version, METH_NOARGS, NULL},
                                {"trusted_certs_folder", trusted_certs_folder, METH_NOARGS, NULL},
                                {NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "grafts_system_openssl", NULL, -1, methods};
PyMODINIT_FUNC PyInit_grafts_system_openssl(void) { return PyModule_Create(&module); }
