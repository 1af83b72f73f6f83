/* tls.c - HTTPS credentials and client certificate checks (see tls.h). */
#include "autoconfig.h"
#include "http/tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "log.h"

#define MAX_CHAIN 16

struct creds {
    gnutls_pcert_st pcerts[MAX_CHAIN];
    unsigned int n;
    gnutls_privkey_t key;
};

/* The credentials in force and the ones they replaced: a handshake that
 * fetched the previous set may still use it, so it lives one more reload. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct creds *current, *previous;

static void creds_free(struct creds *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n; i++)
        gnutls_pcert_deinit(&c->pcerts[i]);
    gnutls_privkey_deinit(c->key);
    free(c);
}

char *jg_tls_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < (16L << 20) &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1))) {
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        } else {
            buf[len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

jg_status jg_tls_load(const char *cert_path, const char *key_path)
{
    struct creds *c = calloc(1, sizeof(*c));
    char *cert = jg_tls_read_file(cert_path), *key = jg_tls_read_file(key_path);
    jg_status st = JG_ERR_INVALID_CONFIG;
    int rc;

    if (!c || !cert || !key) {
        jg_err("tls: cannot read '%s' or '%s'", cert_path, key_path);
        goto out;
    }
    gnutls_datum_t cd = {(unsigned char *)cert, (unsigned int)strlen(cert)};
    gnutls_datum_t kd = {(unsigned char *)key, (unsigned int)strlen(key)};
    c->n = MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->n, &cd, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || c->n == 0) {
        jg_err("tls: '%s': %s", cert_path, gnutls_strerror(rc));
        c->n = 0;
        goto out;
    }
    if ((rc = gnutls_privkey_init(&c->key)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(c->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        jg_err("tls: '%s': %s", key_path, gnutls_strerror(rc));
        goto out;
    }
    pthread_mutex_lock(&lock);
    creds_free(previous);
    previous = current;
    current = c;
    c = NULL;
    pthread_mutex_unlock(&lock);
    st = JG_OK;
out:
    creds_free(c);
    if (key)
        explicit_bzero(key, strlen(key));
    free(key);
    free(cert);
    return st;
}

bool jg_tls_priorities_ok(const char *prio)
{
    gnutls_priority_t p;
    const char *err = NULL;
    int rc = gnutls_priority_init(&p, prio, &err);
    if (rc < 0) {
        jg_err("tls: 'tls_priorities' is not a GnuTLS priority string (%s at '%s')",
               gnutls_strerror(rc), err ? err : prio);
        return false;
    }
    gnutls_priority_deinit(p);
    return true;
}

static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    int rc = -1;
    pthread_mutex_lock(&lock);
    if (current) {
        *pcert = current->pcerts;
        *pcert_length = current->n;
        *pkey = current->key;
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void *jg_tls_retrieve_callback(void)
{
    return (void *)&retrieve;
}

bool jg_tls_client_verified(void *session)
{
    unsigned int status = 0;
    if (!session || gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
        return false;
    unsigned int n = 0;
    if (!gnutls_certificate_get_peers(session, &n) || n == 0)
        return false;
    return gnutls_certificate_verify_peers2(session, &status) == 0 && status == 0;
}

void jg_tls_done(void)
{
    pthread_mutex_lock(&lock);
    creds_free(previous);
    creds_free(current);
    previous = current = NULL;
    pthread_mutex_unlock(&lock);
}
