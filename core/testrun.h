/* testrun.h — `sluice test FILE...`: pipeline unit tests.
 *
 * A test file (`<pipeline>_test.yaml` next to `<pipeline>.yaml`, or any file with `file: PATH`)
 * lists test cases. Each feeds input records through a chain of transforms, in-process, and
 * compares what comes out with what is expected:
 *
 *     file: orders.yaml              # optional; default: this file's name without `_test`
 *     tests:
 *       - name: masks the card       # shown in reports
 *         pipeline: orders           # which pipeline of the file (optional if it has one)
 *         chain: source              # `source` (default) or the id of a sink: whose transforms
 *         # or, instead of pipeline/chain, an inline chain (plus optional `predicates:`):
 *         # transforms: [{plugin: cast, config: {spec: "a:int32"}}]
 *         schemas.enable: false      # true: keys and values are Kafka Connect JSON envelopes
 *         input:
 *           - {value: {a: "1"}, key: k, headers: {h: v}, topic: t, partition: 0, offset: 5,
 *              timestamp: 1700000000000}
 *         expect:                    # one entry per output record or failed input, in order
 *           - {value: {a: 1}, key: k, headers: {h: v}, topic: t, timestamp: 1700000000000}
 *           - {error: "cannot cast"} # the record failed; its error message contains the text
 *
 * Keys and values are written in YAML and go through the json converter (with schemas.enable as
 * the test says) both ways, so what is compared is what a sink would see. Numbers compare by value.
 * Only the parts an expectation names are compared. Exit: 0 all passed, 1 a test failed (a diff is
 * printed), 2 a file could not be run (its errors are printed with file and line). */
#ifndef SLUICE_TESTRUN_H
#define SLUICE_TESTRUN_H

int testrun_main(int argc, char **argv);

#endif
