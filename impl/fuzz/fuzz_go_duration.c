/* Go's time.ParseDuration, ParseBool and Atoi as the attributes use them.
 * Property: a duration that parses, formatted the way Go prints it, parses
 * back to the same number of nanoseconds. */
#include "fuzz_target.h"

#include "bkcache/attrs.h"

BK_FUZZ_TARGET(go_duration)
{
    char *s = bk_fuzz_cstr(data, size);
    if (s == NULL)
        return 0;
    bk_err err;
    int64_t ns = 0;
    if (bk_go_parse_duration(s, &ns, &err) == BK_OK) {
        char text[64];
        bk_go_format_duration(ns, text, sizeof text);
        int64_t back = 0;
        if (bk_go_parse_duration(text, &back, &err) != BK_OK)
            bk_fuzz_fail("a formatted duration does not parse");
        if (back != ns)
            bk_fuzz_fail("format/parse round trip changed a duration");
    } else if (strncmp(err.msg, "time: ", 6) != 0) {
        bk_fuzz_fail("a duration error without Go's message");
    }
    int v;
    (void)bk_go_parse_bool(s, &v);
    (void)bk_go_atoi(s, &v);
    free(s);
    return 0;
}
