"""file source → console sink, in-process: every JSON value comes out on stdout, in order."""
import json

import pytest

from sluicetest import write_yaml

RECORDS = [
    {"id": 1, "sensor": "ldr-a3", "luz": 512},
    {"id": 2, "sensor": "ldr-a3", "luz": 498, "note": "quote \" and backslash \\"},
    {"id": 3, "big": 9007199254740993},          # 2^53 + 1: must not pass through a double
    {"id": 4, "neg": -9223372036854775808},      # int64 min
    {"id": 5, "nested": {"a": [1, 2, {"b": None}], "ok": True}},
    {"id": 6, "text": "ñandú €"},
    {"id": 7, "float": 1.5},
    {"id": 8, "empty": {}},
    {"id": 9, "list": []},
    {"id": 10, "last": "yes"},
]


@pytest.mark.asan
@pytest.mark.tsan
def test_file_to_console_json(sluice, tmp):
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS),
                   encoding="utf-8")
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: show
    topic: readings
    value.converter: json
    value.converter.schemas.enable: false
    source:
      plugin: file
      config:
        file: {src}
        format: json
        follow: false
    sinks:
      - id: screen
        plugin: console
        config:
          format: json
""")
    r = sluice.run("run", "--quiet", cfg, timeout=30)
    assert r.returncode == 0, f"exit {r.returncode}\nstderr:\n{r.stderr}"
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == len(RECORDS), f"expected {len(RECORDS)} lines on stdout, got:\n{r.stdout}"
    got = [json.loads(ln) for ln in lines]
    assert got == RECORDS
    # --quiet: no progress line; stderr holds no error either.
    assert "error" not in r.stderr.lower(), r.stderr
