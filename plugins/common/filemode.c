/* filemode.c — the `file.mode` key of the sinks that write local files. */
#include "filemode.h"

#include <stdio.h>
#include <stdlib.h>

int filemode_parse(const char *text, unsigned *mode, char *errstr, size_t errstr_size)
{
    char *end;
    unsigned long m = text && *text ? strtoul(text, &end, 8) : 0644;
    if (text && *text && (*end || m > 0777 || (m & 0600) != 0600)) {
        snprintf(errstr, errstr_size,
                 "file.mode: '%s' is not octal permissions from 0600 to 0777 that let the owner "
                 "read and write (e.g. 0644, 0640, 0600)",
                 text);
        return -1;
    }
    *mode = (unsigned)m;
    return 0;
}
