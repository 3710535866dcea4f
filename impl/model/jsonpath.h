/* JSON paths for the errors jansson reports by position only. Private to the
 * model layer (the config reader, the graph and local cache loaders). */
#ifndef BKCACHE_JSONPATH_H
#define BKCACHE_JSONPATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* When jansson refused text because a number is out of range (an integer
 * beyond int64, a real beyond double), writes "<path>: number <text> is out
 * of range (<type>)" into msg, the path in the reader's form
 * ("layers[3].annotations.size"), and returns true; false for any other
 * error. */
bool bk__json_range_error(const char *text, size_t len, const json_error_t *e, char *msg,
                          size_t msg_len);

#endif
