/* top.h — `sluice top`: a live terminal view of a worker's connectors (GET /stats), with keys
 * that pause, resume, restart and stop them through the REST API. */
#ifndef SLUICE_TOP_H
#define SLUICE_TOP_H

/* argv: what follows "top". Returns the exit code: 0 ok (q, or a snapshot printed), 1 the worker
 * could not be read (snapshot), 2 a usage error, 128 + the signal that ended it. */
int top_main(int argc, char **argv);

#endif
