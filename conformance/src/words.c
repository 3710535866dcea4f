/* The words a result is shown with in the text report, JUnit and HTML, and
 * the escaping of text in the markup (JUnit XML, HTML). */
#include <stdio.h>

#include "conf.h"

const char *conf_level_name(conf_level level)
{
    return level == CONF_RECOMMENDED ? "recommended" : "required";
}

const char *conf_status_word(conf_status st)
{
    switch (st) {
    case CONF_PASS:
        return "PASS";
    case CONF_FAIL:
        return "FAIL";
    case CONF_WARN:
        return "WARN";
    default:
        return "SKIP";
    }
}

void conf_markup_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            /* XML 1.0 allows no control characters but tab, newline, return. */
            if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7f)
                fputc('?', f);
            else
                fputc(*p, f);
        }
    }
}
