/* filemode.h — the `file.mode` key of the sinks that write local files (file, sftp-json's
 * directory store): octal permissions applied exactly to the files they create. */
#ifndef SLUICE_PLUGIN_FILEMODE_H
#define SLUICE_PLUGIN_FILEMODE_H

#include <stddef.h>

/* The mode written by `text` (octal, 0600 to 0777: the owner keeps read and write); NULL or "" is
 * 0644. Returns 0, or -1 with a message naming the key. */
int filemode_parse(const char *text, unsigned *mode, char *errstr, size_t errstr_size);

#endif
