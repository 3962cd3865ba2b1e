"""The loader's rules, proven with the ABI fixture plugins built into build/tests/abi/."""
import re

import pytest

from sluicetest import Background, wait_until, write_yaml

REFUSED = {
    # fixture: words the refusal must contain besides the file's path
    "abi_wrong_major": ["major"],
    "abi_newer_minor": ["minor"],
    "abi_short_struct": ["size"],
    "abi_short_elem": ["config_field_size", "expected"],
    "abi_missing_descriptor": ["sluice_plugin"],
    "not_a_plugin": [],
}


@pytest.mark.asan
def test_good_fixture_loads(sluice, abi_dir):
    so = abi_dir / "abi_good.so"
    r = sluice.run("plugins", "check", so, timeout=30)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    assert str(so) in r.stdout, r.stdout
    assert "ok" in r.stdout
    # name, version and roles are printed
    assert re.search(r"plugin \S+ \S+ \(", r.stdout), r.stdout


@pytest.mark.asan
@pytest.mark.parametrize("fixture", sorted(REFUSED))
def test_bad_fixture_refused(sluice, abi_dir, fixture):
    so = abi_dir / f"{fixture}.so"
    assert so.exists(), f"fixture {so} not built"
    r = sluice.run("plugins", "check", so, timeout=30)
    assert r.returncode == 2, f"{fixture}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    msg = r.stderr
    assert str(so) in msg, f"the refusal does not name the file:\n{msg}"
    for w in REFUSED[fixture]:
        assert w in msg.lower(), f"{fixture}: the refusal lacks {w!r}:\n{msg}"
    if fixture in ("abi_wrong_major", "abi_newer_minor"):
        # expected and found ABI versions: two different numbers, both said
        nums = re.findall(r"\d+(?:\.\d+)?", msg.replace(str(so), ""))
        assert len(set(nums)) >= 2, f"{fixture}: expected and found versions not both named:\n{msg}"
        assert "expect" in msg.lower() and ("found" in msg.lower() or "has" in msg.lower()), msg


@pytest.mark.asan
def test_duplicate_plugin_name_refused(sluice, abi_dir):
    dup = abi_dir / "dup"
    files = sorted(dup.glob("*.so"))
    assert len(files) >= 2, f"{dup} should hold two plugins with the same name: {files}"
    r = sluice.run("plugins", "list", env={"SLUICE_PLUGIN_PATH": str(dup)}, timeout=30)
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}{r.stderr}"
    for f in files:
        assert str(f) in r.stderr, f"the duplicate-name error does not name {f}:\n{r.stderr}"


# -- compatibility: tables and precommit offsets read with the plugin's element sizes (ABI 1.3) --

COMPAT_KEYS = ["out", "color", "count", "flag", "note"]


@pytest.mark.asan
@pytest.mark.parametrize("fixture,name,abi", [("abi_v1_2", "abi-v1-2", "1.2"),
                                              ("abi_grown", "abi-grown", "1.4"),
                                              ("abi_no_sizes", "abi-no-sizes", "1.4")])
def test_compat_fixture_tables(sluice, abi_dir, fixture, name, abi):
    """A plugin built against the 1.2 header (no element sizes), one whose structs are larger than
    the core's, and one of this minor that leaves its sizes 0 all load, and every key, default and
    alias of their tables reads right."""
    compat = abi_dir / "compat"
    so = compat / f"{fixture}.so"
    r = sluice.run("plugins", "check", so, timeout=30)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    assert f"ABI {abi}" in r.stdout, r.stdout
    r = sluice.run("plugins", "docs", name, env={"SLUICE_PLUGIN_PATH": str(compat)}, timeout=30)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    keys = re.findall(r"^\| `([^`]+)` \|", r.stdout, re.M)
    assert keys == COMPAT_KEYS, r.stdout
    for row in ["| `color` | enum: `red`, `green`, `blue` | `green` |",
                "| `count` | int, 1 to 100 | `7` |", "| `note` | string | `n/a` |"]:
        assert row in r.stdout, f"{row!r} missing:\n{r.stdout}"
    preset = "blue" if fixture == "abi_v1_2" else "red"
    assert f"(presets `color: {preset}`)" in r.stdout, r.stdout
    assert len(re.findall(r"^- `abi\.", r.stdout, re.M)) == 2, r.stdout


@pytest.mark.asan
def test_compat_fixtures_run(sluice, abi_dir, tmp, runs):
    """Both fixtures run as sinks: the core validates their configuration with their tables (an
    alias's preset, defaults of later entries), and hands precommit an array they can index,
    with the members the core does not know left zero."""
    src = tmp / "in.txt"
    src.write_text("a\nb\nc\n")
    out = {k: tmp / f"{k}.txt" for k in ("old", "grown", "grown2")}
    cfg = write_yaml(tmp / "compat.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: compat
    topic: lines
    value.converter: string
    source:
      plugin: file
      config: {{file: {src}, format: text, follow: true}}
    sinks:
      - id: old
        plugin: abi.V12$Blue
        config: {{out: {out['old']}, count: 42}}
      - id: grown
        plugin: abi-grown
        config: {{out: {out['grown']}, flag: true, note: hello}}
      - id: grown2
        plugin: abi.Grown$Red
        config: {{out: {out['grown2']}}}
""")
    sluice.env["SLUICE_PLUGIN_PATH"] = str(abi_dir / "compat")
    run = Background(sluice, tmp, cfg)
    runs.append(run)
    precommitted = "precommit topic=lines partition=0 offset=3 later=0\n"
    wait_until(lambda: all(p.exists() and precommitted in p.read_text() for p in out.values()),
               30, what="a precommit of the three records in every sink")
    assert run.stop() == 0, run.stderr()
    assert out["old"].read_text().startswith("init color=blue count=42 flag=0 note=n/a\n")
    assert out["grown"].read_text().startswith("init color=green count=7 flag=1 note=hello\n")
    assert out["grown2"].read_text().startswith("init color=red count=7 flag=0 note=n/a\n")
    for p in out.values():
        lines = p.read_text().splitlines()
        assert all(ln == precommitted.strip() for ln in lines[1:]), lines


@pytest.mark.asan
def test_compat_table_checks(sluice, abi_dir, tmp):
    """lint checks a 1.2 plugin's keys with its table: ranges, and unknown keys with a hint."""
    cfg = write_yaml(tmp / "bad.yaml", f"""version: 1
offset.storage.file.filename: {tmp}/offsets.json
pipelines:
  - id: compat
    topic: lines
    source:
      plugin: file
      config: {{file: {tmp}/in.txt}}
    sinks:
      - id: old
        plugin: abi-v1-2
        config: {{out: {tmp}/old.txt, count: 0, colour: red}}
""")
    r = sluice.run("lint", cfg, env={"SLUICE_PLUGIN_PATH": str(abi_dir / "compat")}, timeout=30)
    assert r.returncode != 0, r.stdout
    assert "must be between 1 and 100, found 0" in r.stderr, r.stderr
    assert "did you mean 'color'?" in r.stderr, r.stderr
