/* The real bk_err_set, not the analyzer's model of it. */
#define BK_ERR_SET_DEFINITION
#include "bkcache/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bk_code bk_err_set(bk_err *err, bk_code code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void bk_err_prefix(bk_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char prefix[BK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Keep as much of both as fits; truncation of a long message is intended. */
    size_t plen = strnlen(prefix, sizeof prefix);
    if (plen >= sizeof err->msg)
        plen = sizeof err->msg - 1;
    size_t mlen = strnlen(err->msg, sizeof err->msg);
    if (plen + mlen >= sizeof err->msg)
        mlen = sizeof err->msg - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
}

void bk_err_clear(bk_err *err)
{
    if (err == NULL)
        return;
    err->code = BK_OK;
    err->msg[0] = '\0';
}

const char *bk_code_name(bk_code code)
{
    switch (code) {
    case BK_OK:
        return "OK";
    case BK_EINVAL:
        return "EINVAL";
    case BK_ENOMEM:
        return "ENOMEM";
    case BK_EIO:
        return "EIO";
    case BK_ENOTFOUND:
        return "ENOTFOUND";
    case BK_EAUTH:
        return "EAUTH";
    case BK_EPROTO:
        return "EPROTO";
    case BK_EINTEGRITY:
        return "EINTEGRITY";
    case BK_ES3:
        return "ES3";
    case BK_ETIMEOUT:
        return "ETIMEOUT";
    case BK_EUNSUPPORTED:
        return "EUNSUPPORTED";
    }
    return "UNKNOWN";
}
