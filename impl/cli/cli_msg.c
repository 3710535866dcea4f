#include "cli_msg.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (2 to 4), or 0 when the
 * bytes there are not one (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). Fills the code point. */
static size_t utf8_sequence(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        *cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        *cp = c & 0x0f;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        *cp = c & 0x07;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        unsigned char b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf))
            return 0; /* also stops at the terminating NUL */
        *cp = (*cp << 6) | (b & 0x3f);
    }
    return n;
}

/* Code points that are valid text but act on a terminal: C1 controls, and
 * the bidirectional marks and overrides that reorder what is shown. */
static int acts_on_terminal(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static void escape(bk_buf *out, const char *s, int keep_newlines)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        if (*p == '\n' && keep_newlines) {
            bk_buf_putc(out, '\n');
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            bk_buf_printf(out, "\\x%02x", *p++);
        } else if (*p < 0x80) {
            bk_buf_putc(out, (char)*p++);
        } else {
            uint32_t cp = 0;
            size_t n = utf8_sequence(p, &cp);
            if (n == 0) {
                bk_buf_printf(out, "\\x%02x", *p++);
            } else if (acts_on_terminal(cp)) {
                bk_buf_printf(out, "\\u%04x", (unsigned)cp);
                p += n;
            } else {
                bk_buf_append(out, p, n);
                p += n;
            }
        }
    }
}

void cli_escape(bk_buf *out, const char *s)
{
    escape(out, s, 0);
}

void cli_escape_text(bk_buf *out, const char *s)
{
    escape(out, s, 1);
}

/* Formats, escapes and writes one line. */
static void emit(FILE *out, const char *prefix, const char *fmt, va_list ap)
{
    bk_buf raw = BK_BUF_INIT, line = BK_BUF_INIT;
    bk_buf_vprintf(&raw, fmt, ap);
    bk_buf_puts(&line, prefix);
    cli_escape(&line, bk_buf_str(&raw));
    bk_buf_putc(&line, '\n');
    if (line.failed)
        fputs("bkcache: out of memory formatting a message\n", out);
    else
        fputs(bk_buf_str(&line), out);
    fflush(out);
    bk_buf_clear(&raw);
    bk_buf_clear(&line);
}

static void prefix_for(char *buf, size_t size, const char *cmd, const char *kind)
{
    snprintf(buf, size, "bkcache%s%s: %s", cmd ? " " : "", cmd ? cmd : "", kind);
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    char prefix[64];
    prefix_for(prefix, sizeof prefix, cmd, "");
    va_list ap;
    va_start(ap, fmt);
    emit(stderr, prefix, fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

void cli_warn(const char *cmd, const char *fmt, ...)
{
    char prefix[64];
    prefix_for(prefix, sizeof prefix, cmd, "warning: ");
    va_list ap;
    va_start(ap, fmt);
    emit(stderr, prefix, fmt, ap);
    va_end(ap);
}

void cli_note(FILE *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(out, "", fmt, ap);
    va_end(ap);
}
