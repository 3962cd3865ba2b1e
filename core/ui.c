/* ui.c — see ui.h. */
#include "ui.h"

#include <string.h>

void ui_serve(const char *name, http_response_t *resp)
{
    const char *want = name ? name : "index.html";
    for (const ui_asset_t *a = ui_assets; a->name; a++) {
        if (strcmp(a->name, want) != 0)
            continue;
        resp->status = 200;
        resp->content_type = a->content_type;
        buf_append(&resp->body, a->data, a->len);
        return;
    }
    resp->status = 404;
    buf_puts(&resp->body, "{\"error_code\":404,\"message\":\"HTTP 404 Not Found\"}");
}
