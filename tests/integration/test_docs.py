"""docs/plugins/<name>.md is generated from each plugin's config table (scripts/gen-docs) and must
not drift from what `sluice plugins docs <name>` prints."""
import pytest

from sluicetest import REPO


@pytest.mark.asan
def test_checked_in_docs_match_the_plugins(sluice, plugin_names):
    docs = REPO / "docs" / "plugins"
    drift = []
    for name in plugin_names:
        r = sluice.run("plugins", "docs", name, timeout=30)
        assert r.returncode == 0, f"plugins docs {name}: exit {r.returncode}\n{r.stderr}"
        assert r.stdout.strip(), f"plugins docs {name} printed nothing"
        page = docs / f"{name}.md"
        if not page.is_file():
            drift.append(f"{page} is missing")
        elif page.read_text() != r.stdout:
            drift.append(f"{page} differs from `sluice plugins docs {name}`")
    assert not drift, "\n".join(drift) + "\nrun scripts/gen-docs and commit docs/plugins/"


@pytest.mark.asan
def test_docs_of_unknown_plugin(sluice, plugin_names):
    r = sluice.run("plugins", "docs", "consol", timeout=30)
    assert r.returncode == 2
    assert "consol" in r.stderr
    if "console" in plugin_names:
        assert "did you mean 'console'" in r.stderr, r.stderr


@pytest.mark.asan
def test_version(sluice):
    r = sluice.run("version", timeout=10)
    assert r.returncode == 0
    assert r.stdout.startswith("sluice "), r.stdout


@pytest.mark.asan
def test_checked_in_core_reference_matches(sluice):
    r = sluice.run("docs", "config", timeout=30)
    assert r.returncode == 0, r.stderr
    for key in ("value.converter", "errors.tolerance", "buffer.memory", "offset.storage.file.filename"):
        assert f"`{key}`" in r.stdout, f"{key} missing from `sluice docs config`"
    page = REPO / "docs" / "configuration.md"
    assert page.is_file() and page.read_text() == r.stdout, \
        "docs/configuration.md differs from `sluice docs config`; run scripts/gen-docs"
