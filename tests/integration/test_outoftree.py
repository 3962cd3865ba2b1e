"""A plugin built outside the tree against the installed header loads and runs
(tests/outoftree/test_outoftree.sh does the work; this test runs it)."""
import subprocess

from sluicetest import REPO, scaled


def test_out_of_tree_plugin(tmp):
    script = REPO / "tests" / "outoftree" / "test_outoftree.sh"
    r = subprocess.run(["bash", str(script), str(tmp / "work")], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=scaled(900))
    print(r.stdout)
    assert r.returncode == 0, f"{script} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert "outoftree: OK" in r.stdout
