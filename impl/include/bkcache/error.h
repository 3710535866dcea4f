/* Error reporting for every libbkcache function: a code a program can branch on
 * and a message a user can act on. The callee fills it; the caller owns it.
 *
 * One rule, everywhere: a bk_err * may always be NULL (the caller does not
 * want the message). A failing function returns the code it set (or NULL /
 * -1 where it returns a pointer or a count, with err filled), so no caller
 * ever reads err->code back: `return bk_err_set(err, ...)`, or keep the code
 * a callee returned. To pass on the failure of a callee that returns NULL,
 * hand it a local bk_err and copy it: bk_err_set(err, local.code, "%s",
 * local.msg). */
#ifndef BKCACHE_ERROR_H
#define BKCACHE_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bk_code {
    BK_OK = 0,
    BK_EINVAL,     /* bad input from the caller or the user: fix the input */
    BK_ENOMEM,     /* allocation failed */
    BK_EIO,        /* local file or socket I/O failed */
    BK_ENOTFOUND,  /* the object, file or key does not exist */
    BK_EAUTH,      /* credentials missing, rejected, or signature mismatch */
    BK_EPROTO,     /* the peer sent something malformed */
    BK_EINTEGRITY, /* a digest, size or checksum did not match */
    BK_ES3,        /* S3 answered with an error (see the message for code and status) */
    BK_ETIMEOUT,   /* an operation ran out of time */
    BK_EUNSUPPORTED,
} bk_code;

#define BK_ERR_MSG_MAX 1024

typedef struct bk_err {
    bk_code code;
    char msg[BK_ERR_MSG_MAX];
} bk_err;

/* Sets code and a printf-formatted message; returns code so callers can write
 * `return bk_err_set(err, BK_EINVAL, "...")`. err may be NULL. */
bk_code bk_err_set(bk_err *err, bk_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#if defined(__clang_analyzer__) && !defined(BK_ERR_SET_DEFINITION)
/* The static analyzer sees one file at a time: without this it takes BK_OK as a
 * possible result of bk_err_set and walks error paths as if they succeeded. */
static inline bk_code bk_err_set_result_(bk_code set, bk_code code)
{
    (void)set;
    return code;
}
#define bk_err_set(err, code, ...)                                                                 \
    bk_err_set_result_(bk_err_set((err), (code), __VA_ARGS__), (code))
#endif

/* Prefixes the existing message with more context ("export: " + msg); with
 * err NULL it does nothing. It returns nothing: return the code you hold. */
void bk_err_prefix(bk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void bk_err_clear(bk_err *err);

/* Short stable name of a code, e.g. "EINVAL". */
const char *bk_code_name(bk_code code);

#ifdef __cplusplus
}
#endif

#endif
