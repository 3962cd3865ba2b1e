"""sluice's Avro decoder and encoder against fastavro and avro-c (issue #22): random schemas (every primitive,
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


def make_case(seed):
    """The seed's writer schema (a record at the top), its text, fastavro's parse and datums."""
    g = Gen(seed)
    raw = g.type()
    if isinstance(raw, str) or (isinstance(raw, dict) and raw.get("type") != "record"):
        raw = {"type": "record", "name": "Top", "fields": [{"name": "v", "type": raw}]}
    text = json.dumps(raw)
    return raw, text, fastavro.parse_schema(json.loads(text)), [g.datum(raw) for _ in range(DATUMS)]


def sluice_recode(tmp_path, text, encoded, seed):
    """build/tests/avro_tool recode: (the Avro translation of sluice's Connect schema, the datums
    sluice wrote again as hex lines)."""
    (tmp_path / "schema.json").write_text(text)
    tool = build_dir() / "tests" / "avro_tool"
    p = subprocess.run([str(tool), "recode", str(tmp_path / "schema.json")],
                       input="".join(b.hex() + "\n" for b in encoded), capture_output=True,
                       text=True, timeout=60)
    lines = p.stdout.splitlines()
    assert lines and lines[0].startswith("SCHEMA "), f"seed {seed}: {text}\n{p.stdout}{p.stderr}"
    assert len(lines) == 1 + len(encoded), f"seed {seed}: {p.stdout}{p.stderr}"
    return lines[0][len("SCHEMA "):], lines[1:]


@pytest.mark.parametrize("seed", SEEDS)
def test_avro_against_fastavro(tmp_path, seed):
    raw, text, schema, datums = make_case(seed)
    encoded = [fa_write(schema, d) for d in datums]
    translated_text, lines = sluice_recode(tmp_path, text, encoded, seed)
    translated = fastavro.parse_schema(json.loads(translated_text))
    for d, b, line in zip(datums, encoded, lines):
        assert not line.startswith("ERROR"), f"seed {seed}: schema {text}\ndatum {d!r}\n{line}"
        assert '"enum"' in text or line == b.hex(), (f"seed {seed}: bytes differ\nschema {text}\n"
                                 f"translated {translated_text}\ndatum {d!r}\n{b.hex()}\n{line}")
        assert fa_read(translated, bytes.fromhex(line)) == fa_read(schema, b), f"seed {seed}"


# -- avro-c (Apache Avro's C library, Debian libavro-dev 1.11) -------------------------------------
# build/tests/avro_c_tool (tests/avro_c_tool.c) builds each datum as an avro-c generic value from a
# tagged JSON form of it and writes avro-c's encoding; it also reads binary datums and writes what
# it read. What avro-c lacks, and how the test deals with it, rather than leaving it out:
# - logical types: avro-c 1.11 ignores a schema's logicalType (its headers have no decimal, date,
#   time or timestamp); the test hands it the underlying value (a decimal's unscaled
#   two's-complement bytes, as fastavro makes them; a date's day count), so what is compared is
#   the encoding of the underlying types, and sluice's logical types are checked against fastavro;
# - unions: avro-c's API takes the branch index; the test picks it as fastavro does (the first
#   branch the datum fits), which may differ from the branch the generator drew when two fit (0 in
#   ["long", "int"]): so avro-c's bytes are compared as values through fastavro, and sluice's bytes
#   with avro-c's byte for byte;
# - defaults: every datum is read with the schema it was written with (avro-c's generic reader, no
#   schema resolution), where a default plays no part; avro-c parses the schemas' defaults (the
#   generator's and those of sluice's translation) and nothing more is asked of it.


def _fits(t, d):
    if isinstance(t, list):
        return any(_fits(b, d) for b in t)
    if isinstance(t, dict) and t.get("logicalType") == "decimal":
        return isinstance(d, Decimal)
    base = t["type"] if isinstance(t, dict) and isinstance(t["type"], str) and \
        t["type"] not in ("record", "enum", "array", "map") else t
    if isinstance(base, str):
        if base in ("int", "long"):
            lim = 2**31 if base == "int" else 2**63
            return isinstance(d, int) and not isinstance(d, bool) and -lim <= d < lim
        if base == "float":
            return isinstance(d, float) and abs(d) < 3.4e38 and \
                struct.unpack("<f", struct.pack("<f", d))[0] == d
        return {"null": type(None), "boolean": bool, "double": float, "string": str,
                "bytes": bytes}[base] is type(d)
    tt = base["type"]
    if tt == "enum":
        return isinstance(d, str) and d in base["symbols"]
    if tt == "record":
        return isinstance(d, dict) and set(d) == {f["name"] for f in base["fields"]}
    if tt == "array":
        return isinstance(d, list)
    return isinstance(d, dict)  # map


def tagged(t, d):
    """The datum in avro_c_tool's tagged JSON (see tests/avro_c_tool.c)."""
    if isinstance(t, list):
        i = next(i for i, b in enumerate(t) if _fits(b, d))
        return [i, tagged(t[i], d)]
    if isinstance(t, dict) and t.get("logicalType") == "decimal":
        # fastavro's encoding of the unscaled value, without its length prefix
        b = fa_write({"type": "record", "name": "D", "fields": [{"name": "d", "type": t}]},
                     {"d": d})
        n, shift, k = 0, 0, 0
        while True:
            n |= (b[k] & 0x7F) << shift
            shift += 7
            k += 1
            if not b[k - 1] & 0x80:
                break
        assert (n >> 1) == len(b) - k
        return b[k:].hex()
    if isinstance(t, dict) and isinstance(t["type"], str) and \
            t["type"] not in ("record", "enum", "array", "map"):
        return tagged(t["type"], d)
    if isinstance(t, str):
        if t in ("int", "long"):
            return str(d)
        if t in ("float", "double"):
            return float.hex(d)
        if t == "bytes":
            return d.hex()
        return d  # null, boolean, string
    tt = t["type"]
    if tt == "enum":
        return d
    if tt == "record":
        return {f["name"]: tagged(f["type"], d[f["name"]]) for f in t["fields"]}
    if tt == "array":
        return [tagged(t["items"], x) for x in d]
    return {k: tagged(t["values"], v) for k, v in d.items()}


def avro_c(mode, schema_path, lines, seed):
    tool = build_dir() / "tests" / "avro_c_tool"
    assert tool.is_file(), (f"{tool} is not built: it needs avro-c (Debian libavro-dev, in "
                            "scripts/lib/deps.sh's test group); install it and run meson again")
    p = subprocess.run([str(tool), mode, str(schema_path)], input="".join(x + "\n" for x in lines),
                       capture_output=True, text=True, timeout=60)
    out = p.stdout.splitlines()
    assert p.returncode == 0 and len(out) == len(lines), f"seed {seed}: {p.stdout}{p.stderr}"
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_avro_against_avro_c(tmp_path, seed):
    raw, text, schema, datums = make_case(seed)
    (tmp_path / "writer.json").write_text(text)
    # avro-c writes each datum
    out = avro_c("encode", tmp_path / "writer.json",
                 [json.dumps(tagged(raw, d), ensure_ascii=False) for d in datums], seed)
    for d, line in zip(datums, out):
        assert not line.startswith("ERROR"), f"seed {seed}: schema {text}\ndatum {d!r}\n{line}"
        assert fa_read(schema, bytes.fromhex(line)) == fa_read(schema, fa_write(schema, d)), \
            f"seed {seed}: avro-c wrote another datum\nschema {text}\ndatum {d!r}\n{line}"
    c_bytes = [bytes.fromhex(x) for x in out]
    # avro-c → sluice: sluice reads avro-c's bytes and writes the same bytes
    translated_text, lines = sluice_recode(tmp_path, text, c_bytes, seed)
    for d, c, line in zip(datums, c_bytes, lines):
        assert not line.startswith("ERROR"), f"seed {seed}: schema {text}\ndatum {d!r}\n{line}"
        assert '"enum"' in text or line == c.hex(), (
            f"seed {seed}: sluice wrote other bytes than avro-c\nschema {text}\n"
            f"translated {translated_text}\ndatum {d!r}\n{c.hex()}\n{line}")
    # sluice → avro-c: avro-c reads sluice's bytes with sluice's schema and writes the same bytes
    (tmp_path / "translated.json").write_text(translated_text)
    back = avro_c("recode", tmp_path / "translated.json", lines, seed)
    for d, line, b in zip(datums, lines, back):
        assert b == line, (f"seed {seed}: avro-c read sluice's bytes otherwise\n"
                           f"translated {translated_text}\ndatum {d!r}\n{line}\n{b}")
