"""Bad configuration: `lint` and `run` both refuse it with exit 2 and a message that names
FILE:LINE:COL and the key or plugin at fault, and nothing is written (no sink output, no offsets)."""
import os
import re
import shutil

import pytest

from sluicetest import write_lines, write_yaml

BASE = """version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: bad
    topic: readings
    batch.max.records: 100
    source:
      plugin: file
      config:
        file: {src}
        follow: false
    sinks:
      - id: out
        plugin: file
        config:
          file: {dst}
"""

UNDEFINED = "SLUICE_TEST_SURELY_UNDEFINED_VAR"

# name: (replace this, with that, the line to point at (a substring of it), words the message
#        must contain, whether the column must be the key's or the value's)
CASES = {
    "malformed_yaml": ("      plugin: file\n      config:", "      plugin: file\n     config:",
                       "     config:", [], False),
    "wrong_type": ("batch.max.records: 100", "batch.max.records: lots",
                   "batch.max.records: lots", ["batch.max.records", "lots"], True),
    "missing_required_key": ("        file: {src}\n", "        format: text\n",
                             None, ["'file'", "file"], False),
    "unknown_key_with_hint": ("batch.max.records: 100", "batch.max.record: 100",
                              "batch.max.record: 100",
                              ["batch.max.record", "did you mean", "batch.max.records"], True),
    "unknown_plugin_with_hint": ("        plugin: file\n        config:\n          file: {dst}",
                                 "        plugin: fiel\n        config:\n          file: {dst}",
                                 "plugin: fiel", ["fiel", "did you mean", "'file'"], True),
    "unreadable_file_interpolation": ("topic: readings",
                                      "topic: ${{file:/nonexistent/sluice.properties:topic}}",
                                      "topic: ${file:", ["/nonexistent/sluice.properties"], True),
    "undefined_variable": ("topic: readings", "topic: ${{" + UNDEFINED + "}}",
                           "topic: ${" + UNDEFINED, [UNDEFINED], True),
}


def error_lines(stderr, path):
    return [ln for ln in stderr.splitlines() if ln.startswith(f"{path}:")]


@pytest.mark.asan
@pytest.mark.parametrize("command", ["lint", "run"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_refused(sluice, tmp, case, command):
    old, new, point, words, exact_col = CASES[case]
    src, dst = tmp / "in.txt", tmp / "out.txt"
    write_lines(src, 10)
    assert old in BASE, case
    text = BASE.replace(old, new).format(tmp=tmp, src=src, dst=dst)
    cfg = write_yaml(tmp / "bad.yaml", text)
    env = {k: v for k, v in os.environ.items() if k != UNDEFINED}
    sluice.env = env

    args = ["run", "--quiet", cfg] if command == "run" else ["lint", cfg]
    r = sluice.run(*args, timeout=30)
    assert r.returncode == 2, f"{command} {case}: exit {r.returncode}, expected 2\n{r.stderr}"
    errs = error_lines(r.stderr, cfg)
    assert errs, f"no FILE:LINE:COL message naming {cfg}:\n{r.stderr}"
    m = re.match(re.escape(str(cfg)) + r":(\d+):(\d+): (.+)", errs[0])
    assert m, f"not FILE:LINE:COL: message: {errs[0]!r}"
    lines = text.splitlines()
    if point is not None:
        # The first message points at the faulty line (malformed YAML: at most one line off).
        want = next(i + 1 for i, ln in enumerate(lines) if point in ln)
        got_line, got_col = int(m.group(1)), int(m.group(2))
        slack = 1 if case == "malformed_yaml" else 0
        assert abs(got_line - want) <= slack, \
            f"message points at line {got_line}, the fault is on line {want}: {errs[0]}"
        if exact_col:
            src_line = lines[want - 1]
            key_col = len(src_line) - len(src_line.lstrip()) + 1
            value_col = src_line.index(":") + 3
            assert got_col in (key_col, value_col), \
                f"column {got_col} is neither the key's ({key_col}) nor the value's ({value_col})"
    else:
        # Missing key: the message points into the source block that lacks it.
        start = next(i + 1 for i, ln in enumerate(lines) if ln.strip() == "source:")
        end = next(i + 1 for i, ln in enumerate(lines) if ln.strip() == "sinks:")
        assert start <= int(m.group(1)) < end, \
            f"missing key reported at line {m.group(1)}, outside the source (lines {start}-{end})"
    message = "\n".join(errs)
    for w in words:
        assert w in message, f"message lacks {w!r}: {message}"
    assert not dst.exists(), f"{command} wrote sink output although the config is bad"
    assert not (tmp / "offsets.json").exists(), f"{command} wrote offsets although the config is bad"


@pytest.mark.asan
@pytest.mark.parametrize("command", ["list", "lint", "run"])
def test_plugin_that_fails_to_load(sluice, tmp, abi_dir, command):
    plugdir = tmp / "plugins"
    plugdir.mkdir()
    broken = plugdir / "broken.so"
    shutil.copy(abi_dir / "not_a_plugin.so", broken)
    src, dst = tmp / "in.txt", tmp / "out.txt"
    write_lines(src, 10)
    cfg = write_yaml(tmp / "p.yaml", BASE.format(tmp=tmp, src=src, dst=dst))
    args = {"list": ["plugins", "list"], "lint": ["lint", cfg],
            "run": ["run", "--quiet", cfg]}[command]
    r = sluice.run(*args, env={"SLUICE_PLUGIN_PATH": str(plugdir)}, timeout=30)
    assert r.returncode == 2, f"{command}: exit {r.returncode}, expected 2\n{r.stderr}"
    assert str(broken) in r.stderr, f"the message does not name {broken}:\n{r.stderr}"
    assert not dst.exists()
