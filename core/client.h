/* client.h — `sluice connectors ...`: a thin client of Kafka Connect's REST API (a running
 * `sluice run`, or Kafka Connect itself), for operators without curl at hand. */
#ifndef SLUICE_CLIENT_H
#define SLUICE_CLIENT_H

/* argv: what follows "connectors". Returns the exit code: 0 ok, 1 the API answered an error or
 * could not be reached (the message printed), 2 a usage error. */
int client_main(int argc, char **argv);

/* `sluice tap NAME ...` (argv: what follows "tap"): the records of a connector's stage, one line
 * each (GET /connectors/{name}/tap). Exit codes as client_main's. */
int client_tap_main(int argc, char **argv);

#endif
