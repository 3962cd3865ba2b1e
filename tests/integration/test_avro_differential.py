"""sluice's Avro decoder and encoder against fastavro (issue #22): random schemas (every primitive,
records nested in records, arrays, maps, optional and general unions, enums, defaults, the logical
types date, time-millis, timestamp-millis and decimal) and random datums. fastavro writes a datum,
sluice reads it with the writer schema and writes it again with the Avro translation of the Connect
schema it made (build/tests/avro_tool recode); the bytes must be the same (but for enums, which
become strings with connect.parameters as Confluent's AvroData makes them), and fastavro must read
sluice's bytes with that translation to the same value. Seeded: a failure names its seed."""
import io
import json
import random
import struct
import subprocess
from decimal import Decimal

import fastavro
import pytest

from sluicetest import build_dir

SEEDS = range(300)
DATUMS = 6


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.names = 0

    def name(self, prefix):
        self.names += 1
        return f"{prefix}{self.names}"

    def type(self, depth=0):
        r = self.r
        kinds = ["int", "long", "float", "double", "boolean", "string", "bytes", "date", "time",
                 "timestamp", "decimal", "enum"]
        if depth < 3:
            kinds += ["record", "array", "map", "optional", "union"] * 2
        k = r.choice(kinds)
        if k in ("int", "long", "float", "double", "boolean", "string", "bytes"):
            return k
        if k == "date":
            return {"type": "int", "logicalType": "date"}
        if k == "time":
            return {"type": "int", "logicalType": "time-millis"}
        if k == "timestamp":
            return {"type": "long", "logicalType": "timestamp-millis"}
        if k == "decimal":
            p = r.randint(1, 30)
            return {"type": "bytes", "logicalType": "decimal", "precision": p,
                    "scale": r.randint(0, p)}
        if k == "enum":
            return {"type": "enum", "name": self.name("E"),
                    "symbols": [f"S{i}" for i in range(r.randint(1, 5))]}
        if k == "record":
            fields = []
            for i in range(r.randint(0, 4)):
                t = self.type(depth + 1)
                f = {"name": f"f{i}", "type": t}
                if isinstance(t, list) and t[0] == "null":
                    f["default"] = None
                fields.append(f)
            return {"type": "record", "name": self.name("R"), "fields": fields}
        if k == "array":
            return {"type": "array", "items": self.type(depth + 1)}
        if k == "map":
            return {"type": "map", "values": self.type(depth + 1)}
        t = self.type(depth + 1)
        if isinstance(t, list):
            return t
        if k == "optional":
            return ["null", t]
        if isinstance(t, dict) and "logicalType" in t:
            return ["null", t]  # a logical type shares its base type with the other branches
        # a general union: distinct unnamed types, or one named type
        others = [x for x in ("int", "string", "double", "boolean") if x != t]
        return [t, r.choice(others)] if r.random() < 0.5 else ["null", t, r.choice(others)]

    def datum(self, t, depth=0):
        r = self.r
        if isinstance(t, list):
            return self.datum(r.choice(t), depth)
        if isinstance(t, str):
            if t == "null":
                return None
            if t == "int":
                return r.choice([0, -1, 2**31 - 1, -2**31, r.randint(-2**31, 2**31 - 1)])
            if t == "long":
                return r.choice([0, 2**63 - 1, -2**63, r.randint(-2**63, 2**63 - 1)])
            if t == "float":
                return struct.unpack("<f", struct.pack("<f", r.uniform(-1e30, 1e30)))[0]
            if t == "double":
                return r.choice([0.0, -0.0, 1e308, 5e-324, r.uniform(-1e300, 1e300)])
            if t == "boolean":
                return r.random() < 0.5
            if t == "string":
                return "".join(r.choice("aZ09 _\u00e9\u4e2d\U0001f600\"\\") for _ in range(r.randint(0, 12)))
            if t == "bytes":
                return bytes(r.randrange(256) for _ in range(r.randint(0, 12)))
        lt = t.get("logicalType")
        if lt == "date":
            return r.randint(-100000, 100000)
        if lt == "time-millis":
            return r.randint(0, 86399999)
        if lt == "timestamp-millis":
            return r.randint(-2**40, 2**42)
        if lt == "decimal":
            digits = r.randint(0, t["precision"])
            n = r.randint(-(10**digits - 1), 10**digits - 1)
            return Decimal(n).scaleb(-t["scale"])
        tt = t["type"]
        if tt == "enum":
            return r.choice(t["symbols"])
        if tt == "record":
            return {f["name"]: self.datum(f["type"], depth + 1) for f in t["fields"]}
        if tt == "array":
            return [self.datum(t["items"], depth + 1) for _ in range(r.randint(0, 3))]
        if tt == "map":
            return {f"k{i}": self.datum(t["values"], depth + 1) for i in range(r.randint(0, 3))}
        return self.datum(tt, depth)


def fa_write(schema, datum):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, datum)
    return out.getvalue()


def fa_read(schema, data):
    return fastavro.schemaless_reader(io.BytesIO(data), schema, None)


@pytest.mark.parametrize("seed", SEEDS)
def test_avro_against_fastavro(tmp_path, seed):
    g = Gen(seed)
    raw = g.type()
    if isinstance(raw, str) or (isinstance(raw, dict) and raw.get("type") != "record"):
        raw = {"type": "record", "name": "Top", "fields": [{"name": "v", "type": raw}]}
    text = json.dumps(raw)
    schema = fastavro.parse_schema(json.loads(text))
    datums = [g.datum(raw) for _ in range(DATUMS)]
    encoded = [fa_write(schema, d) for d in datums]
    (tmp_path / "schema.json").write_text(text)
    tool = build_dir() / "tests" / "avro_tool"
    p = subprocess.run([str(tool), "recode", str(tmp_path / "schema.json")],
                       input="".join(b.hex() + "\n" for b in encoded), capture_output=True,
                       text=True, timeout=60)
    lines = p.stdout.splitlines()
    assert lines and lines[0].startswith("SCHEMA "), f"seed {seed}: {text}\n{p.stdout}{p.stderr}"
    translated = fastavro.parse_schema(json.loads(lines[0][len("SCHEMA "):]))
    assert len(lines) == 1 + DATUMS, f"seed {seed}: {p.stdout}{p.stderr}"
    for d, b, line in zip(datums, encoded, lines[1:]):
        assert not line.startswith("ERROR"), f"seed {seed}: schema {text}\ndatum {d!r}\n{line}"
        assert '"enum"' in text or line == b.hex(), (f"seed {seed}: bytes differ\nschema {text}\n"
                                 f"translated {lines[0]}\ndatum {d!r}\n{b.hex()}\n{line}")
        assert fa_read(translated, bytes.fromhex(line)) == fa_read(schema, b), f"seed {seed}"
