#!/usr/bin/env bash
# tests/outoftree/test_outoftree.sh — proves that a plugin can be built outside this tree:
#   1. meson setup + install sluice into a temporary prefix (binary, plugins, sluice/plugin.h,
#      sluice-plugin.pc),
#   2. compiles tests/outoftree/hello.c against the installed header found through pkg-config,
#   3. `$prefix/bin/sluice plugins check hello.so` and `plugins docs hello`,
#   4. the plugin's unit tests (tests/outoftree/hello_test.yaml, `sluice test`) and `sluice lint`
#      refusing a misspelt key of its configuration table,
#   5. a pipeline file → hello → console that must print the header hello: world on every record,
#   6. counter.c (a source) and lines.c (a sink), built the same way: counter → hello → lines makes
#      250 lines, and a second run with count 300 resumes at 250 (positions and commit),
#   7. docs/writing-plugins.md shows hello.c as it is (the guide's example cannot drift).
# usage: tests/outoftree/test_outoftree.sh [WORKDIR]   (default: a fresh mktemp dir, removed after)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src_root="$(cd "$here/../.." && pwd)"
if [ $# -ge 1 ]; then
    work="$1"
    mkdir -p "$work"
else
    work="$(mktemp -d -t sluice-outoftree.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
fi
prefix="$work/prefix"
step() { echo "outoftree: $*"; }
fail() { echo "outoftree: FAIL: $*" >&2; exit 1; }

step "meson setup + install into $prefix"
timeout 300 meson setup "$work/build" "$src_root" --prefix="$prefix" --buildtype=release \
    -Dtests=false >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; fail "meson setup"; }
timeout 600 ninja -C "$work/build" >"$work/build.log" 2>&1 || { tail -50 "$work/build.log" >&2; fail "build"; }
timeout 300 meson install -C "$work/build" >"$work/install.log" 2>&1 || { tail -50 "$work/install.log" >&2; fail "install"; }
[ -x "$prefix/bin/sluice" ] || fail "$prefix/bin/sluice was not installed"

pcdirs=$(find "$prefix" -type f -name sluice-plugin.pc -printf '%h:')
[ -n "$pcdirs" ] || fail "sluice-plugin.pc was not installed under $prefix"
export PKG_CONFIG_PATH="${pcdirs}${PKG_CONFIG_PATH:-}"
cflags=$(pkg-config --cflags sluice-plugin) || fail "pkg-config --cflags sluice-plugin"
step "pkg-config sluice-plugin: $cflags"
case "$cflags" in *"$src_root"*) fail "cflags point into the source tree, not the install" ;; esac

mkdir -p "$work/plugins"
for name in hello counter lines; do
    step "compiling $name.c against the installed header"
    # shellcheck disable=SC2086  # cflags is a word list
    timeout 120 cc -std=c17 -Wall -Wextra -Werror -fPIC -shared $cflags -Wl,-z,defs \
        -o "$work/plugins/$name.so" "$here/$name.c"

    step "sluice plugins check $name.so"
    out=$(timeout 30 "$prefix/bin/sluice" plugins check "$work/plugins/$name.so") \
        || fail "plugins check refused $name.so: $out"
    echo "$out"
    case "$out" in *"plugin $name "*) ;; *) fail "plugins check does not name the plugin: $out" ;; esac
done

step "sluice plugins docs hello"
out=$(SLUICE_PLUGIN_PATH="$work/plugins" timeout 30 "$prefix/bin/sluice" plugins docs hello) \
    || fail "plugins docs hello failed: $out"
case "$out" in *'`header`'*greeting*) ;; *) fail "plugins docs hello lacks the header key: $out" ;; esac

step "sluice test hello_test.yaml"
out=$(SLUICE_PLUGIN_PATH="$work/plugins" timeout 60 "$prefix/bin/sluice" test -v "$here/hello_test.yaml") \
    || fail "the plugin's unit tests failed: $out"
echo "$out"
case "$out" in *"3 passed, 0 failed"*) ;; *) fail "expected 3 passing tests: $out" ;; esac

printf 'version: 1\npipelines:\n  - id: typo\n    source:\n      plugin: datagen-avro\n      config: {quickstart: orders}\n      transforms:\n        - plugin: hello\n          config: {headr: greeting}\n' >"$work/typo.yaml"
step "sluice lint refuses a misspelt key"
if out=$(SLUICE_PLUGIN_PATH="$work/plugins" timeout 30 "$prefix/bin/sluice" lint "$work/typo.yaml" 2>&1); then
    fail "lint accepted the unknown key headr: $out"
fi
echo "$out"
case "$out" in *"did you mean 'header'"*) ;; *) fail "lint did not suggest 'header': $out" ;; esac

printf '{"n":1}\n{"n":2}\n{"n":3}\n' >"$work/in.jsonl"
cat >"$work/hello.yaml" <<YAML
version: 1
offset.storage.file.filename: $work/offsets.json
pipelines:
  - id: hello
    topic: greetings
    value.converter: json
    source:
      plugin: file
      config:
        file: $work/in.jsonl
        format: json
        follow: false
      transforms:
        - plugin: hello
    sinks:
      - id: screen
        plugin: console
        config:
          format: json
          print.headers: true
YAML
step "running file → hello → console with the installed sluice"
out=$(SLUICE_PLUGIN_PATH="$work/plugins" timeout 60 "$prefix/bin/sluice" run --quiet "$work/hello.yaml") \
    || fail "run failed: $out"
echo "$out"
n=$(printf '%s\n' "$out" | grep -cE '"headers":\{[^}]*"hello":"world"' || true)
[ "$n" -eq 3 ] || fail "expected 3 records with header hello: world, got $n"
cat >"$work/counter.yaml" <<YAML
version: 1
offset.storage.file.filename: $work/counter-offsets.json
pipelines:
  - id: count
    topic: numbers
    source:
      plugin: counter
      config: { count: "\${COUNT}" }
      transforms:
        - plugin: hello
    sinks:
      - id: out
        plugin: lines
        config: { file: $work/numbers.jsonl }
YAML
expect_numbers() { # N: numbers.jsonl holds {"n":0} .. {"n":N-1}, one a line, in order
    seq 0 $(($1 - 1)) | sed 's/.*/{"n":&}/' | cmp -s - "$work/numbers.jsonl" \
        || fail "numbers.jsonl is not {\"n\":0}..{\"n\":$(($1 - 1))}: $(head -c 300 "$work/numbers.jsonl")"
}
step "running counter → hello → lines (250 records)"
COUNT=250 SLUICE_PLUGIN_PATH="$work/plugins" timeout 60 "$prefix/bin/sluice" run --quiet "$work/counter.yaml" \
    || fail "counter run failed"
expect_numbers 250
step "running it again with count 300: it resumes at 250"
out=$(COUNT=300 SLUICE_PLUGIN_PATH="$work/plugins" timeout 60 "$prefix/bin/sluice" run --quiet "$work/counter.yaml" 2>&1) \
    || fail "second counter run failed: $out"
case "$out" in *"resuming at 250"*) ;; *) fail "the counter did not resume at 250: $out" ;; esac
expect_numbers 300

step "docs/writing-plugins.md shows hello.c verbatim"
doc="$src_root/docs/writing-plugins.md"
awk '/^```c hello.c$/ {on = 1; next} on && /^```$/ {exit} on {print}' "$doc" | cmp -s - "$here/hello.c" \
    || fail "the \`\`\`c hello.c block of $doc differs from tests/outoftree/hello.c"
step "OK"
