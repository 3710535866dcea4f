/* The words a result is shown with, in the text report, JUnit and HTML. */
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
