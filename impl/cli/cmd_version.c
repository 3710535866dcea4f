#include <stdio.h>

#include "bkcache/version.h"
#include "cmd.h"

int bk_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("bkcache %s\n", bk_version());
    return 0;
}
