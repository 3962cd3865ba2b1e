"""The loader's rules, proven with the ABI fixture plugins built into build/tests/abi/."""
import re

import pytest

REFUSED = {
    # fixture: words the refusal must contain besides the file's path
    "abi_wrong_major": ["major"],
    "abi_newer_minor": ["minor"],
    "abi_short_struct": ["size"],
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
