#include "bkcache/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bk_buf_init(bk_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void bk_buf_clear(bk_buf *b)
{
    free(b->data);
    bk_buf_init(b);
}

void bk_buf_reset(bk_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static int reserve(bk_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > (size_t)-1 / 2 - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (b->data != NULL && need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int bk_buf_append(bk_buf *b, const void *data, size_t len)
{
    if (reserve(b, len) != 0)
        return -1;
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int bk_buf_puts(bk_buf *b, const char *s)
{
    return bk_buf_append(b, s, strlen(s));
}

int bk_buf_putc(bk_buf *b, char c)
{
    /* One byte into room there is: no reserve, no memcpy call (JSON writers
     * put a quote, comma or brace between every two values). */
    if (!b->failed && b->data != NULL && b->len + 2 <= b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return bk_buf_append(b, &c, 1);
}

int bk_buf_put_u64(bk_buf *b, uint64_t v)
{
    char digits[20]; /* 2^64 - 1 has 20 */
    size_t i = sizeof digits;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return bk_buf_append(b, digits + i, sizeof digits - i);
}

int bk_buf_vprintf(bk_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || reserve(b, (size_t)n) != 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int bk_buf_printf(bk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bk_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *bk_buf_str(const bk_buf *b)
{
    return b->data != NULL ? b->data : "";
}

char *bk_buf_steal(bk_buf *b)
{
    if (b->failed) {
        bk_buf_clear(b);
        return NULL;
    }
    if (b->data == NULL && reserve(b, 0) != 0)
        return NULL;
    if (b->len == 0)
        b->data[0] = '\0';
    char *p = b->data;
    bk_buf_init(b);
    return p;
}

bk_code bk_buf_check(const bk_buf *b, bk_err *err)
{
    if (b->failed)
        return bk_err_set(err, BK_ENOMEM, "out of memory while building a %zu-byte buffer", b->len);
    return BK_OK;
}
