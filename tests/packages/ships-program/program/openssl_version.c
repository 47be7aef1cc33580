/* Prints the version of the OpenSSL it was linked with. */
#include <stdio.h>
#include <openssl/crypto.h>

int main(void) {
    puts(OpenSSL_version(OPENSSL_VERSION));
    return 0;
}
