"""datagen-avro: Confluent Datagen's quickstarts and arg.properties hints (schemas/*.avsc).

- determinism: the same random.seed gives a byte-identical stream, another seed a different one;
- every quickstart, through a real Kafka broker with value.converter avro and a real registry: each
  message is Confluent-framed, decodes with fastavro against the schema the registry returns for its
  id, and honours the hints of schemas/<name>.avsc (ranges, options, iterations, regexes — the
  latter checked with Python's re), with the key = the quickstart's key field;
- a restart continues the stream (offsets file) instead of repeating it; `iterations` ends the
  pipeline with exit 0;
- bad input is a `sluice lint` error (exit 2) naming the schema, the field and the hint;
- long regexes (Confluent's generator silently gave up above 15 characters) generate matches.
"""
import base64
import datetime
import decimal
import io
import json
import re
import struct
import urllib.request

import fastavro
import pytest

import kafkatest
from sluicetest import REPO, write_yaml

SCHEMAS = REPO / "schemas"

# quickstart name → (schema file, default key field), as in Confluent's Quickstart enum.
QUICKSTARTS = {
    "ORDERS": ("orders.avsc", "orderid"),
    "PURCHASES": ("purchases.avsc", "id"),
    "CREDIT_CARDS": ("credit_cards.avsc", "card_id"),
    "TRANSACTIONS": ("transactions.avsc", "transaction_id"),
    "FLEET_MGMT_DESCRIPTION": ("fleet_mgmt_description.avsc", "vehicle_id"),
    "FLEET_MGMT_LOCATION": ("fleet_mgmt_location.avsc", "vehicle_id"),
    "FLEET_MGMT_SENSORS": ("fleet_mgmt_sensors.avsc", "vehicle_id"),
    "USERS": ("users.avsc", "userid"),
    "PAGEVIEWS": ("pageviews.avsc", "viewtime"),
    "STOCK_TRADES": ("stock_trades.avsc", "symbol"),
    "LIGHT_SENSOR": ("light_sensor.avsc", "id"),
}

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
EPOCH_DAY = datetime.date(1970, 1, 1)
INT_MAX = {"int": 2 ** 31 - 1, "long": 2 ** 63 - 1}


# -- pipeline files ------------------------------------------------------------------------------

def inprocess_yaml(tmp, out, source_config, *, pid="gen", offsets=None, name="p.yaml",
                   converter="json", schemas_enable=False, extra=""):
    """One in-process pipeline: datagen-avro (config lines given) → file sink `out`."""
    offsets = offsets or tmp / "offsets.json"
    cfg = "".join(f"        {ln}\n" for ln in source_config.strip("\n").splitlines())
    return write_yaml(tmp / name, f"""version: 1
offset.storage.file.filename: {offsets}
pipelines:
  - id: {pid}
    topic: {pid}
    key.converter: json
    key.converter.schemas.enable: false
    value.converter: {converter}
    value.converter.schemas.enable: {'true' if schemas_enable else 'false'}
{extra}    source:
      plugin: datagen-avro
      config:
{cfg}    sinks:
      - id: out
        plugin: file
        config: {{file: {out}}}
""")


def lint_yaml(tmp, source_config):
    return inprocess_yaml(tmp, tmp / "out.jsonl", source_config, name="lint.yaml")


def json_decimal(v, scale):
    """A Decimal as Kafka Connect's JSON writes it: base64 of the unscaled big-endian two's
    complement (decimal.format BASE64, the default) or a number (NUMERIC)."""
    if isinstance(v, str):
        unscaled = int.from_bytes(base64.b64decode(v), "big", signed=True)
        return decimal.Decimal(unscaled).scaleb(-scale)
    return decimal.Decimal(v)


def lines_of(path):
    return path.read_text().splitlines() if path.exists() else []


# -- hint checking ---------------------------------------------------------------------------------

def to_plain(v):
    """fastavro's logical-type objects back to what the generator made: ms, days, Decimal."""
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, datetime.date):
        return (v - EPOCH_DAY).days
    if isinstance(v, datetime.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
    if isinstance(v, dict):
        return {k: to_plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_plain(x) for x in v]
    return v


def iteration_value(it, avro_type, n):
    """The n-th value (from 0) of an `iteration` hint, as avro-random-generator computes it:
    start + ((initial - start) + n * step) mod (restart - start)."""
    start = it.get("start", 0)
    step = it.get("step", 1)
    restart = it.get("restart", INT_MAX.get(avro_type, 2 ** 63 - 1))
    initial = it.get("initial", start)
    span = abs(restart - start)
    cur = abs((initial - start) + n * step) % span
    return start + (cur if step > 0 else -cur)


def check_hints(where, ftype, props, value, n, errors):
    """Checks value (plain Python, see to_plain) against the hints `props` of a schema `ftype`
    (type-level props already merged under field-level ones), recursing into records. n is the
    record's iteration number. Appends a message to errors for every violation."""
    if isinstance(ftype, dict) and ftype.get("type") == "record":
        for f in ftype["fields"]:
            sub = f["type"]
            merged = dict(sub.get("arg.properties", {})) if isinstance(sub, dict) else {}
            merged.update(f.get("arg.properties", {}))
            if f["name"] not in (value or {}):
                errors.append(f"{where}.{f['name']}: missing from {value!r}")
                continue
            check_hints(f"{where}.{f['name']}", sub, merged, value[f["name"]], n, errors)
    avro_type = ftype.get("type") if isinstance(ftype, dict) else ftype
    if not props:
        return
    if "options" in props:
        opts = props["options"]
        if isinstance(ftype, dict) and ftype.get("logicalType") == "decimal":
            ok = any(decimal.Decimal(str(o)) == value for o in opts)
        else:
            ok = value in opts
        if not ok:
            errors.append(f"{where}: {value!r} is not one of the {len(opts)} options")
        return
    if "iteration" in props:
        want = iteration_value(props["iteration"], avro_type, n)
        if value != want:
            errors.append(f"{where}: record {n} has {value!r}, iteration "
                          f"{props['iteration']} gives {want!r}")
        return
    if "range" in props:
        lo = props["range"].get("min")
        hi = props["range"].get("max")
        if isinstance(value, decimal.Decimal):
            lo = None if lo is None else decimal.Decimal(str(lo))
            hi = None if hi is None else decimal.Decimal(str(hi))
        if (lo is not None and value < lo) or (hi is not None and not value < hi):
            errors.append(f"{where}: {value!r} outside range [{lo}, {hi})")
    if "regex" in props:
        s = value
        pre, suf = props.get("prefix", ""), props.get("suffix", "")
        if not (isinstance(s, str) and s.startswith(pre) and s.endswith(suf)
                and re.fullmatch(props["regex"], s[len(pre):len(s) - len(suf)])):
            errors.append(f"{where}: {value!r} does not match regex {props['regex']!r}")


def registry_schema(url, sid, cache):
    if sid not in cache:
        with urllib.request.urlopen(f"{url}/schemas/ids/{sid}", timeout=30) as resp:
            raw = json.loads(json.loads(resp.read())["schema"])
        cache[sid] = (raw, fastavro.parse_schema(raw))
    return cache[sid]


def header_int(headers, name):
    """A numeric header: decimal text (Kafka Connect's SimpleHeaderConverter) or 8-byte BE."""
    vals = [v for k, v in headers if k == name]
    assert vals, f"header {name!r} missing (headers: {headers!r})"
    v = vals[-1]
    try:
        return int(v.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        assert len(v) == 8, f"header {name!r} = {v!r}: neither decimal text nor an int64"
        return struct.unpack(">q", v)[0]


# -- determinism, iterations, restart ------------------------------------------------------------

def run_ok(sluice, cfg, timeout=60):
    r = sluice.run("run", "--quiet", cfg, timeout=timeout)
    assert r.returncode == 0, f"exit {r.returncode}\nstderr:\n{r.stderr}"
    return r


@pytest.mark.asan
def test_same_seed_same_bytes_other_seed_other_bytes(sluice, tmp):
    """orders with random.seed 42, twice, in separate runs (separate offsets): byte-identical JSON
    files; seed 43: a different file of the same length in records."""
    n = 500
    outs = {}
    for tag, seed in (("a", 42), ("b", 42), ("c", 43)):
        out = tmp / f"{tag}.jsonl"
        cfg = inprocess_yaml(tmp, out, f"""quickstart: orders
random.seed: {seed}
rate: 0
iterations: {n}""", offsets=tmp / f"offsets-{tag}.json", name=f"{tag}.yaml",
                             schemas_enable=True)
        run_ok(sluice, cfg)
        outs[tag] = out.read_bytes()
        assert len(lines_of(out)) == n, f"run {tag}: {len(lines_of(out))} of {n} records"
    assert outs["a"] == outs["b"], "same seed, different output"
    assert outs["a"] != outs["c"], "seeds 42 and 43 gave the same output"
    # Random fields differ with the seed; the iteration field (orderid) does not.
    a = [json.loads(x) for x in outs["a"].decode().splitlines()]
    c = [json.loads(x) for x in outs["c"].decode().splitlines()]
    assert [r["orderid"] for r in a] == list(range(n)) == [r["orderid"] for r in c]
    assert sum(x["ordertime"] != y["ordertime"] for x, y in zip(a, c)) > n // 2


def test_confluent_class_name_is_an_alias(sluice, tmp):
    """A connector config pasted from Confluent names the plugin by its class: the same records
    as `plugin: datagen-avro` with the same seed."""
    outs = []
    for tag, plugin in (("a", "datagen-avro"), ("b", "io.confluent.kafka.connect.datagen.DatagenConnector")):
        out = tmp / f"{tag}.jsonl"
        cfg = inprocess_yaml(tmp, out, """quickstart: transactions
random.seed: 5
rate: 0
iterations: 50""", offsets=tmp / f"offsets-{tag}.json", name=f"{tag}.yaml")
        cfg.write_text(cfg.read_text().replace("plugin: datagen-avro", f"plugin: {plugin}"))
        run_ok(sluice, cfg)
        outs.append(out.read_bytes())
    assert len(lines_of(tmp / "b.jsonl")) == 50
    assert outs[0] == outs[1]


@pytest.mark.asan
@pytest.mark.tsan
def test_iterations_end_the_pipeline_with_exit_0(sluice, tmp):
    """`iterations: 25` → exactly 25 records (orderid 0..24), then the process ends by itself
    with exit 0 (Confluent's task fails instead)."""
    out = tmp / "out.jsonl"
    cfg = inprocess_yaml(tmp, out, """quickstart: ORDERS
random.seed: 7
max.interval: 1ms
iterations: 25""")
    run_ok(sluice, cfg, timeout=30)
    recs = [json.loads(x) for x in lines_of(out)]
    assert [r["orderid"] for r in recs] == list(range(25))


@pytest.mark.asan
def test_restart_continues_the_stream(sluice, tmp):
    """Run 40 records, then the same file again with iterations 100 and the same offsets file: the
    second run writes records 40..99 (no repeat), and the two outputs together are byte-identical
    to one run of 100 with the same seed from scratch (iteration and PRNG state resumed)."""
    offsets = tmp / "offsets.json"
    first, second, whole = tmp / "first.jsonl", tmp / "second.jsonl", tmp / "whole.jsonl"
    conf = "quickstart: transactions\nrandom.seed: 1234\nrate: 0\niterations: {}"
    run_ok(sluice, inprocess_yaml(tmp, first, conf.format(40), offsets=offsets, name="1.yaml"))
    run_ok(sluice, inprocess_yaml(tmp, second, conf.format(100), offsets=offsets, name="2.yaml"))
    run_ok(sluice, inprocess_yaml(tmp, whole, conf.format(100), offsets=tmp / "fresh.json",
                                  name="3.yaml"))
    a = [json.loads(x) for x in lines_of(first)]
    b = [json.loads(x) for x in lines_of(second)]
    assert [r["transaction_id"] for r in a] == list(range(1, 41))
    assert [r["transaction_id"] for r in b] == list(range(41, 101)), \
        f"after the restart: {[r['transaction_id'] for r in b][:10]}..."
    assert [r["purchase_id"] for r in a + b] == list(range(100))
    assert first.read_bytes() + second.read_bytes() == whole.read_bytes(), \
        "40 + restart + 60 differs from one run of 100 with the same seed"
    # A third run with the limit already reached writes nothing and still exits 0.
    third = tmp / "third.jsonl"
    run_ok(sluice, inprocess_yaml(tmp, third, conf.format(100), offsets=offsets, name="4.yaml"),
           timeout=30)
    assert lines_of(third) == []


def console_yaml(tmp, source_config, offsets, name):
    cfg = "".join(f"        {ln}\n" for ln in source_config.strip("\n").splitlines())
    return write_yaml(tmp / name, f"""version: 1
offset.storage.file.filename: {offsets}
pipelines:
  - id: gen
    topic: gen
    key.converter: json
    key.converter.schemas.enable: false
    value.converter: json
    source:
      plugin: datagen-avro
      config:
{cfg}    sinks:
      - id: screen
        plugin: console
        config: {{print.key: true, print.headers: true}}
""")


@pytest.mark.asan
@pytest.mark.tsan
def test_tasks_headers_and_generation(sluice, tmp):
    """tasks.max 3: every task makes `iterations` records with its own iteration sequence and
    derived seed, stamped task.id / task.generation / current.iteration; a restart bumps
    task.generation and continues current.iteration; the same seed gives the same lines."""
    conf = "quickstart: pageviews\nrandom.seed: 11\nrate: 0\ntasks.max: 3\niterations: {}"
    offsets = tmp / "offsets.json"
    runs = []
    for i, (iters, off) in enumerate(((6, offsets), (10, offsets), (6, tmp / "again.json"))):
        r = run_ok(sluice, console_yaml(tmp, conf.format(iters), off, f"{i}.yaml"), timeout=30)
        runs.append([json.loads(x) for x in r.stdout.splitlines() if x.strip()])
    first, second, again = runs
    assert len(first) == 18 and len(second) == 12, (len(first), len(second))
    assert first == again, "same seed and tasks.max, different records"

    def by_task(recs):
        out = {}
        for r in recs:
            h = r["headers"]
            out.setdefault(int(h["task.id"]), []).append(
                (int(h["task.generation"]), int(h["current.iteration"]), r["value"], r["key"]))
        return out

    t1, t2 = by_task(first), by_task(second)
    assert sorted(t1) == sorted(t2) == [0, 1, 2]
    for t in range(3):
        assert [x[:2] for x in t1[t]] == [(0, k) for k in range(6)], t1[t]
        assert [x[:2] for x in t2[t]] == [(1, k) for k in range(6, 10)], t2[t]
        # PAGEVIEWS' viewtime iterates from 1 by 10 in every task; it is also the key.
        assert [x[2]["viewtime"] for x in t1[t] + t2[t]] == [1 + 10 * k for k in range(10)]
        assert all(x[3] == x[2]["viewtime"] for x in t1[t] + t2[t])
    users = [[x[2]["userid"] for x in t1[t]] for t in range(3)]
    assert len({tuple(u) for u in users}) > 1, f"the tasks share one seed: {users}"


# -- every quickstart through Kafka + registry ---------------------------------------------------

def quickstart_case(name):
    """Alternate spellings: the names are case-insensitive."""
    return name.lower() if len(name) % 2 else name


@pytest.mark.parametrize("name", list(QUICKSTARTS))
def test_quickstart_through_kafka_avro(sluice, kafka, schema_registry, tmp, name):
    n = 300
    fname, keyfield = QUICKSTARTS[name]
    original = json.loads((SCHEMAS / fname).read_text())
    topic = kafkatest.uniq(name.lower().replace("_", "-"))
    kafkatest.create_topic(kafka.bootstrap, topic, partitions=1)
    cfg = write_yaml(tmp / "p.yaml", f"""version: 1
kafka:
  bootstrap.servers: {kafka.bootstrap}
schema.registry:
  url: {schema_registry.url}
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: {topic}
    topic: {topic}
    key.converter: json
    key.converter.schemas.enable: false
    value.converter: avro
    source:
      plugin: datagen-avro
      config:
        quickstart: {quickstart_case(name)}
        random.seed: 99
        rate: 0
        iterations: {n}
""")
    r = sluice.run("run", "--quiet", cfg, timeout=90)
    assert r.returncode == 0, f"exit {r.returncode}\nstderr:\n{r.stderr}"
    msgs = kafkatest.consume(kafka.bootstrap, topic, n=n, timeout=60)
    assert len(msgs) == n, f"{len(msgs)} of {n} records in {topic}"

    cache, errors = {}, []
    for i, m in enumerate(msgs):
        assert m.value[:1] == b"\x00" and len(m.value) > 5, f"not Confluent-framed: {m.value[:8]!r}"
        sid = struct.unpack(">I", m.value[1:5])[0]
        raw, parsed = registry_schema(schema_registry.url, sid, cache)
        v = to_plain(fastavro.schemaless_reader(io.BytesIO(m.value[5:]), parsed))
        assert header_int(m.headers, "current.iteration") == i
        assert header_int(m.headers, "task.id") == 0
        assert m.key is not None, f"record {i} has no key"
        assert json.loads(m.key) == v[keyfield], \
            f"record {i}: key {m.key!r}, {keyfield} = {v[keyfield]!r}"
        check_hints(original["name"], original, original.get("arg.properties", {}), v, i, errors)
        if len(errors) > 20:
            break
    assert not errors, "hints not honoured:\n" + "\n".join(errors[:20])

    # The registered schema keeps Confluent's record name, namespace and field names.
    assert len(cache) == 1, f"one schema expected, ids {sorted(cache)}"
    raw = next(iter(cache.values()))[0]
    full = f"{original['namespace']}.{original['name']}"
    got = raw["name"] if "." in raw["name"] else f"{raw.get('namespace', '')}.{raw['name']}"
    assert got == full, f"registered record name {got!r}, Confluent's is {full!r}"
    assert [f["name"] for f in raw["fields"]] == [f["name"] for f in original["fields"]]


@pytest.mark.asan
def test_field_level_hints_and_decimal_range_are_honoured(sluice, tmp):
    """What Confluent's generator ignores and sluice does not: FLEET_MGMT_LOCATION's options sit on
    the field (every location is one of the 30), PURCHASES' decimal range 10.00–50.00."""
    loc = json.loads((SCHEMAS / "fleet_mgmt_location.avsc").read_text())
    options = next(f for f in loc["fields"] if f["name"] == "location")["arg.properties"]["options"]
    out = tmp / "loc.jsonl"
    run_ok(sluice, inprocess_yaml(tmp, out, "quickstart: fleet_mgmt_location\nrandom.seed: 5\n"
                                  "rate: 0\niterations: 200", offsets=tmp / "o1.json"))
    locs = [json.loads(x)["location"] for x in lines_of(out)]
    assert len(locs) == 200
    assert all(x in options for x in locs), [x for x in locs if x not in options][:3]
    assert len({json.dumps(x) for x in locs}) > 10, "options not spread"

    out = tmp / "pur.jsonl"
    cfg = inprocess_yaml(tmp, out, "quickstart: purchases\nrandom.seed: 5\nrate: 0\n"
                         "iterations: 300", offsets=tmp / "o2.json", name="pur.yaml")
    run_ok(sluice, cfg)
    prices = [json_decimal(json.loads(x, parse_float=decimal.Decimal)["price_per_unit"], 2)
              for x in lines_of(out)]
    assert len(prices) == 300
    bad = [p for p in prices if not decimal.Decimal("10.00") <= p < decimal.Decimal("50.00")]
    assert not bad, f"prices outside [10.00, 50.00): {bad[:5]}"
    assert all(p == p.quantize(decimal.Decimal("0.01")) for p in prices), prices[:5]
    assert len(set(prices)) > 50


# -- regex -----------------------------------------------------------------------------------------

LONG_REGEX = r"[A-Z]{2}\d{6}[A-Z]-[a-z]{3,8}(foo|bar)"


@pytest.mark.asan
def test_long_regex_generates_matching_strings(sluice, tmp):
    """A 38-character pattern (Confluent's Generex path produced nothing above 15), given inline
    with schema.string, plus prefix/suffix around a regex."""
    schema = {"type": "record", "name": "plate", "namespace": "t", "fields": [
        {"name": "code", "type": {"type": "string", "arg.properties": {"regex": LONG_REGEX}}},
        {"name": "tag", "type": {"type": "string", "arg.properties": {
            "regex": "[0-9a-f]{4}", "prefix": "<", "suffix": ">"}}},
        {"name": "n", "type": {"type": "long", "arg.properties": {"iteration": {"start": 10,
                                                                                "step": 5}}}},
    ]}
    out = tmp / "out.jsonl"
    text = json.dumps(schema)
    cfg = inprocess_yaml(tmp, out, "schema.string: |\n  " + text +
                         "\nschema.keyfield: code\nrandom.seed: 3\nrate: 0\niterations: 300")
    run_ok(sluice, cfg)
    recs = [json.loads(x) for x in lines_of(out)]
    assert len(recs) == 300
    bad = [r["code"] for r in recs if not re.fullmatch(LONG_REGEX, r["code"])]
    assert not bad, f"codes not matching {LONG_REGEX}: {bad[:5]}"
    assert {r["code"][-3:] for r in recs} == {"foo", "bar"}, "alternation not exercised"
    assert {len(r["code"]) for r in recs} >= {16, 21}, "bounded quantifier {3,8} not exercised"
    assert all(re.fullmatch(r"<[0-9a-f]{4}>", r["tag"]) for r in recs), recs[:3]
    assert [r["n"] for r in recs] == [10 + 5 * i for i in range(300)]


@pytest.mark.asan
def test_hints_on_every_kind_of_type(sluice, tmp):
    """The rest of the language, at depth: options from a JSON file (next to the schema), exact
    and bounded `length` on strings, bytes, arrays and maps, `keys` of maps, hints on array items,
    `odds`, boolean `iteration` (alternates), `iteration` with `restart` and a negative step, a
    union's `options`, enum `options`, `range` on float and on a date."""
    (tmp / "colours.json").write_text(json.dumps(["red", "green", "blue"]))
    schema = {"type": "record", "name": "every", "namespace": "t", "fields": [
        {"name": "colour", "type": {"type": "string",
                                    "arg.properties": {"options": {"file": "colours.json",
                                                                   "encoding": "json"}}}},
        {"name": "code", "type": {"type": "string", "arg.properties": {"length": 5}}},
        {"name": "word", "type": {"type": "string",
                                  "arg.properties": {"length": {"min": 2, "max": 4}}}},
        {"name": "blob", "type": {"type": "bytes", "arg.properties": {"length": 3}}},
        {"name": "scores", "type": {"type": "array",
                                    "items": {"type": "int",
                                              "arg.properties": {"range": {"min": 0, "max": 5}}},
                                    "arg.properties": {"length": {"min": 1, "max": 4}}}},
        {"name": "attrs", "type": {"type": "map", "values": {"type": "long", "arg.properties": {
            "iteration": {"start": 7}}},
            "arg.properties": {"length": 2, "keys": {"regex": "k[0-9]{2}"}}}},
        {"name": "never", "type": {"type": "boolean", "arg.properties": {"odds": 0.0}}},
        {"name": "always", "type": {"type": "boolean", "arg.properties": {"odds": 1.0}}},
        {"name": "flip", "type": {"type": "boolean", "arg.properties": {"iteration": {
            "start": True}}}},
        {"name": "countdown", "type": {"type": "int", "arg.properties": {"iteration": {
            "start": 10, "step": -3, "restart": 0}}}},
        {"name": "note", "type": ["null", "string"], "default": None,
         "arg.properties": {"options": [None, "hello"]}},
        {"name": "suit", "type": {"type": "enum", "name": "suit",
                                  "symbols": ["HEARTS", "SPADES", "CLUBS"],
                                  "arg.properties": {"options": ["SPADES", "CLUBS"]}}},
        {"name": "ratio", "type": {"type": "float",
                                   "arg.properties": {"range": {"min": 2.5, "max": 3.5}}}},
        {"name": "day", "type": {"type": "int", "logicalType": "date",
                                 "arg.properties": {"range": {"min": 19000, "max": 19010}}}},
    ]}
    p = tmp / "every.avsc"
    p.write_text(json.dumps(schema))
    out = tmp / "out.jsonl"
    n = 200
    run_ok(sluice, inprocess_yaml(tmp, out, f"schema.filename: {p}\nrandom.seed: 8\nrate: 0\n"
                                  f"iterations: {n}"))
    recs = [json.loads(x) for x in lines_of(out)]
    assert len(recs) == n
    errors = []
    for i, r in enumerate(recs):
        def want(ok, what):
            if not ok:
                errors.append(f"record {i}: {what}: {r!r}")
        want(r["colour"] in ("red", "green", "blue"), "colour")
        want(len(r["code"]) == 5, "code length 5")
        want(2 <= len(r["word"]) < 4, "word length [2, 4)")
        want(len(base64.b64decode(r["blob"])) == 3, "blob length 3")
        want(1 <= len(r["scores"]) < 4 and all(0 <= x < 5 for x in r["scores"]), "scores")
        # Two draws of the key may collide (k[0-9]{2} has 100 strings): then, as in Confluent's
        # generator, the later entry replaces the earlier and the map holds one.
        want(1 <= len(r["attrs"]) <= 2 and all(re.fullmatch(r"k[0-9]{2}", k) for k in r["attrs"]),
             "attrs keys")
        want(r["never"] is False and r["always"] is True, "odds")
        want(r["flip"] is (i % 2 == 0), "boolean iteration alternates from true")
        # avro-random-generator wraps by the excess: 10, 7, 4, 1, 8, 5, 2, 9, 6, 3, 10, ...
        want(r["countdown"] == iteration_value({"start": 10, "step": -3, "restart": 0}, "int", i),
             "countdown")
        want(r["note"] in (None, "hello"), "union options")
        want(r["suit"] in ("SPADES", "CLUBS"), "enum options")
        want(2.5 <= r["ratio"] < 3.5, "float range")
        want(19000 <= r["day"] < 19010, "date range")
    assert not errors, "\n".join(errors[:10])
    assert {r["colour"] for r in recs} == {"red", "green", "blue"}
    assert {r["note"] for r in recs} == {None, "hello"}
    assert [r["countdown"] for r in recs[:11]] == [10, 7, 4, 1, 8, 5, 2, 9, 6, 3, 10]
    assert sum(len(r["attrs"]) == 2 for r in recs) > n * 0.9


# -- bad input: lint errors naming schema, field, hint -------------------------------------------

def lint_fails(sluice, tmp, source_config, *must):
    cfg = lint_yaml(tmp, source_config)
    r = sluice.run("lint", cfg, timeout=30)
    assert r.returncode == 2, f"lint exit {r.returncode}, want 2\nstderr:\n{r.stderr}"
    for word in must:
        assert word in r.stderr, f"the message does not name {word!r}:\n{r.stderr}"
    return r.stderr


def bad_schema(tmp, field_type, name="bad.avsc"):
    p = tmp / name
    p.write_text(json.dumps({"type": "record", "name": "thing", "namespace": "t", "fields": [
        {"name": "id", "type": "long"},
        {"name": "broken", "type": field_type}]}))
    return p


@pytest.mark.asan
def test_lint_unknown_quickstart(sluice, tmp):
    err = lint_fails(sluice, tmp, "quickstart: ORDRES", "ORDRES")
    assert "quickstart" in err


@pytest.mark.asan
def test_lint_unreadable_schema_file(sluice, tmp):
    missing = tmp / "nowhere" / "missing.avsc"
    lint_fails(sluice, tmp, f"schema.filename: {missing}", str(missing))


@pytest.mark.asan
def test_lint_invalid_json_schema(sluice, tmp):
    p = tmp / "broken.avsc"
    p.write_text('{"type": "record", "name": "x", "fields": [ {"name": "a", "type": "int"} \n')
    lint_fails(sluice, tmp, f"schema.filename: {p}", str(p))


@pytest.mark.asan
def test_lint_range_on_a_string_field(sluice, tmp):
    p = bad_schema(tmp, {"type": "string", "arg.properties": {"range": {"min": 1, "max": 5}}})
    lint_fails(sluice, tmp, f"schema.filename: {p}", str(p), "broken", "range")


@pytest.mark.asan
def test_lint_regex_on_an_int_field(sluice, tmp):
    p = bad_schema(tmp, {"type": "int", "arg.properties": {"regex": "[0-9]{3}"}})
    lint_fails(sluice, tmp, f"schema.filename: {p}", str(p), "broken", "regex")


@pytest.mark.asan
def test_lint_decimal_precision_beyond_an_int(sluice, tmp):
    """A precision no int holds (the fuzzer's 6.1e18) is refused by name, not cast (UB)."""
    p = bad_schema(tmp, {"type": "bytes", "logicalType": "decimal",
                         "precision": 6148914691236517205, "scale": 2})
    lint_fails(sluice, tmp, f"schema.filename: {p}", str(p), "broken", "precision")


@pytest.mark.asan
def test_lint_field_level_hint_not_fitting(sluice, tmp):
    """A field-level hint (sluice reads those too) is checked like a type-level one."""
    p = tmp / "field.avsc"
    p.write_text(json.dumps({"type": "record", "name": "thing", "fields": [
        {"name": "flag", "type": "boolean", "arg.properties": {"range": {"min": 0, "max": 2}}}]}))
    lint_fails(sluice, tmp, f"schema.filename: {p}", str(p), "flag", "range")


@pytest.mark.asan
def test_lint_keyfield_not_in_schema(sluice, tmp):
    err = lint_fails(sluice, tmp, "quickstart: orders\nschema.keyfield: no_such_field",
                     "no_such_field")
    assert "orders" in err.lower(), f"the message does not name the schema:\n{err}"


@pytest.mark.asan
def test_lint_good_quickstarts_pass(sluice, tmp):
    """Every shipped quickstart passes lint (its hints all fit their types)."""
    for name in QUICKSTARTS:
        cfg = lint_yaml(tmp, f"quickstart: {name}")
        r = sluice.run("lint", cfg, timeout=30)
        assert r.returncode == 0, f"{name}: lint exit {r.returncode}\n{r.stderr}"
