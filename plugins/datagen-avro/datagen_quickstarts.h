/*
 * datagen_quickstarts.h — Confluent Datagen's quickstarts, embedded at build time from
 * schemas/<name>.avsc by datagen_embed.py (the table itself is in this folder's meson.build).
 */
#ifndef DATAGEN_QUICKSTARTS_H
#define DATAGEN_QUICKSTARTS_H

struct datagen_quickstart {
    const char *name;     /* Confluent's name, upper case: ORDERS */
    const char *file;     /* the schema file it was built from: orders.avsc */
    const char *keyfield; /* the default schema.keyfield */
    const char *schema;   /* the schema text, or NULL when the file was missing at build time */
};

/* Ended by an entry whose name is NULL. */
extern const struct datagen_quickstart datagen_quickstarts[];

#endif
