/* A growable byte buffer that always keeps a NUL after its data, so it can be
 * used as a C string when it holds text. Used for building canonical requests,
 * XML, JSON and URLs: small things, never whole blobs. */
#ifndef BKCACHE_BUF_H
#define BKCACHE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "bkcache/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bk_buf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    int failed; /* set once an allocation failed; every later append is a no-op */
} bk_buf;

/* clang-format off */
#define BK_BUF_INIT {NULL, 0, 0, 0}
/* clang-format on */

void bk_buf_init(bk_buf *b);
void bk_buf_clear(bk_buf *b);
void bk_buf_reset(bk_buf *b); /* len = 0, keeps the allocation */

int bk_buf_append(bk_buf *b, const void *data, size_t len);
int bk_buf_puts(bk_buf *b, const char *s);
int bk_buf_putc(bk_buf *b, char c);
/* v in decimal, without printf (JSON and XML writers put one per field). */
int bk_buf_put_u64(bk_buf *b, uint64_t v);
int bk_buf_printf(bk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bk_buf_vprintf(bk_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* The text, "" when empty; never NULL. */
const char *bk_buf_str(const bk_buf *b);

/* Hands the allocation to the caller (free() it) and resets b; NULL on an
 * earlier allocation failure. Never returns NULL for an empty buffer. */
char *bk_buf_steal(bk_buf *b);

/* BK_ENOMEM with a message when an append failed, BK_OK otherwise. */
bk_code bk_buf_check(const bk_buf *b, bk_err *err);

#ifdef __cplusplus
}
#endif

#endif
