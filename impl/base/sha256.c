/* SHA-256 in a stream on the SHA extensions (sha256.h): whole blocks go
 * straight from the caller's bytes to the block function, a partial one
 * waits in the context. */
#include "sha256.h"

#include <string.h>

#include "blockhash.h"

void bk__sha256_start(bk__sha256 *s)
{
    memcpy(s->h, bk__sha256_iv, sizeof s->h);
    s->total = 0;
    s->nbuf = 0;
}

/* Fills the unfinished block from `*data`; runs it when full. */
static void fill(bk__sha256 *s, const unsigned char **data, size_t *len)
{
    size_t take = 64 - s->nbuf < *len ? 64 - s->nbuf : *len;
    memcpy(s->buf + s->nbuf, *data, take);
    s->nbuf += take;
    s->total += take;
    *data += take;
    *len -= take;
    if (s->nbuf == 64) {
        bk__sha256_ni_blocks(s->h, s->buf, 1);
        s->nbuf = 0;
    }
}

void bk__sha256_update(bk__sha256 *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len == 0)
        return; /* data may be NULL then */
    if (s->nbuf > 0)
        fill(s, &p, &len);
    if (len >= 64) {
        size_t whole = len - len % 64;
        bk__sha256_ni_blocks(s->h, p, whole / 64);
        s->total += whole;
        p += whole;
        len -= whole;
    }
    if (len > 0)
        fill(s, &p, &len);
}

void bk__sha256_finish(bk__sha256 *s, unsigned char md[32])
{
    bk__sha256_ni_finish(s->h, s->buf, s->nbuf, s->total, md);
    bk__sha256_start(s);
}

void bk__sha256_once(const void *data, size_t len, unsigned char md[32])
{
    bk__sha256 s;
    bk__sha256_start(&s);
    bk__sha256_update(&s, data, len);
    bk__sha256_finish(&s, md);
}
