/* ui.h — the dashboard's files (ui/: HTML, CSS, script), embedded in the binary at build time by
 * scripts/embed-ui, and served by the REST listener at GET /ui (docs/dashboard.md). */
#ifndef SLUICE_UI_H
#define SLUICE_UI_H

#include <stddef.h>

#include "http.h"

typedef struct ui_asset {
    const char *name;         /* "index.html", "dashboard.js", ... */
    const char *content_type; /* with its charset for text */
    const unsigned char *data;
    size_t len;
} ui_asset_t;

/* The generated table (ui_assets.c), ended by an entry whose name is NULL. */
extern const ui_asset_t ui_assets[];

/* GET /ui (the page) and /ui/<name> (`name`: NULL for the page): 200 with the file, or 404. */
void ui_serve(const char *name, http_response_t *resp);

#endif
