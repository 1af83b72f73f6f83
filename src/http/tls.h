/* tls.h - HTTPS for the listener: certificate and key from PEM files,
 * replaced on reload without dropping connections, and client
 * certificates (mutual TLS) checked against a CA file.
 *
 * libmicrohttpd asks for the certificate at each handshake through a
 * GnuTLS callback without a closure, so the credentials in force are
 * process-wide.  Loading is not thread-safe against another load (main
 * only); handshakes may run at any time. */
#ifndef JG_HTTP_TLS_H
#define JG_HTTP_TLS_H

#include <stdbool.h>

#include "status.h"

/* Is prio a GnuTLS priority string GnuTLS accepts?  Logs where it is not. */
bool jg_tls_priorities_ok(const char *prio);

/* Loads (or reloads) the certificate chain and key.  On error logs the
 * reason and keeps what was in force. */
jg_status jg_tls_load(const char *cert_path, const char *key_path);

/* The GnuTLS retrieve callback to hand to libmicrohttpd
 * (MHD_OPTION_HTTPS_CERT_CALLBACK). */
void *jg_tls_retrieve_callback(void);

/* Reads a whole file into a malloc'd NUL-terminated string (for the CA). */
char *jg_tls_read_file(const char *path);

/* With a client CA configured: did the peer of this GnuTLS session
 * present a certificate that verifies?  session is gnutls_session_t. */
bool jg_tls_client_verified(void *session);

/* Frees the credentials (at exit). */
void jg_tls_done(void);

#endif
