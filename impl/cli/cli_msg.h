/* Every line the bkcache CLI prints on stderr: errors, warnings and status
 * lines. They often echo user or server input (attribute values, paths,
 * keys, S3 error texts), so every line goes through one escape: control
 * bytes, invalid UTF-8, C1 controls and bidirectional overrides are shown as
 * \xNN or \uNNNN instead of reaching the terminal; valid UTF-8 text is kept. */
#ifndef BKCACHE_CLI_MSG_H
#define BKCACHE_CLI_MSG_H

#include <stdio.h>

#include "bkcache/buf.h"

/* Exit statuses shared by every command (cmd.h). */
#define CLI_EXIT_FAILED 1 /* the operation failed, or a check did not pass */
#define CLI_EXIT_USAGE 2  /* bad usage or bad input */

/* "bkcache CMD: MSG" (or "bkcache: MSG" when cmd is NULL) on stderr, escaped.
 * Returns CLI_EXIT_USAGE, the status most failures end with. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "bkcache CMD: warning: MSG" on stderr, escaped. */
void cli_warn(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A status line as given ("import: ...: empty cache"), escaped, to out. */
void cli_note(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s with the escapes described above; a newline is escaped too, so
 * the result is one line. */
void cli_escape(bk_buf *out, const char *s);

/* The same for text of many lines (explain's text output): newlines kept. */
void cli_escape_text(bk_buf *out, const char *s);

#endif
