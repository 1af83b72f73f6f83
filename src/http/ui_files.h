/* ui_files.h - the web console's files (ui/ in the sources), compiled into
 * the binary by ui/embed.sh at build time; served by h_ui.c. */
#ifndef JG_HTTP_UI_FILES_H
#define JG_HTTP_UI_FILES_H

#include <stddef.h>

struct jg_ui_file {
    const char *name;          /* "index.html" */
    const char *type;          /* Content-Type */
    const char *etag;          /* quoted: "\"crc-size\"" */
    const unsigned char *data; /* static */
    size_t size;
};

/* Terminated by a row with name == NULL. */
extern const struct jg_ui_file jg_ui_files[];

#endif
