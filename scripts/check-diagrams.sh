#!/usr/bin/env bash
# Checks the PlantUML sources in diagrams/ and renders them to SVG in docs/diagrams/.
#
# Installs nothing: CI provides Debian's `plantuml` package (apt-get install -y plantuml, which brings a
# JRE and graphviz). Written against PlantUML 1.2020.2 (Debian 12), so the diagrams avoid newer syntax.
#
# Quiet on success; on failure prints PlantUML's output and exits non-zero.
# Takes a few seconds, most of it JVM start-up (two JVM runs: check, then render).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v plantuml >/dev/null 2>&1; then
  echo "check-diagrams: plantuml not found (Debian/Ubuntu: apt-get install -y plantuml)" >&2
  exit 2
fi

shopt -s nullglob
sources=(diagrams/*.puml)
if [ ${#sources[@]} -eq 0 ]; then
  echo "check-diagrams: no diagrams/*.puml found" >&2
  exit 1
fi

# Headless JVM: no X display needed, and no AWT window even if DISPLAY is set.
export JAVA_TOOL_OPTIONS="${JAVA_TOOL_OPTIONS:-} -Djava.awt.headless=true"

log="$(mktemp)"
stamp="$(mktemp)"
trap 'rm -f "$log" "$stamp"' EXIT

run() {
  # The JVM announces JAVA_TOOL_OPTIONS on stderr ("Picked up …"); that line is noise, not an error.
  if ! "$@" >"$log" 2>&1; then
    grep -v '^Picked up JAVA_TOOL_OPTIONS' "$log" >&2 || true
    echo "check-diagrams: failed: $*" >&2
    exit 1
  fi
}

# 1. Syntax. -checkonly exits 200 on an error but names neither file nor line (and -failfast2 would
#    override -checkonly and render PNGs next to the sources), so on failure ask -syntax per file.
if ! plantuml -checkonly "${sources[@]}" >"$log" 2>&1; then
  for src in "${sources[@]}"; do
    if ! out="$(plantuml -syntax <"$src" 2>/dev/null)"; then
      # -syntax prints: ERROR / <line, as PlantUML counts it> / <message>
      echo "check-diagrams: $src: $(printf '%s' "$out" | sed -n 3p) (PlantUML line $(printf '%s' "$out" | sed -n 2p))" >&2
    fi
  done
  grep -v -e '^Picked up JAVA_TOOL_OPTIONS' -e '^Some diagram description contains errors' "$log" >&2 || true
  echo "check-diagrams: syntax check failed" >&2
  exit 1
fi

# 2. Render. A relative -o is resolved against each source file's own directory, so
#    diagrams/x.puml -> diagrams/../docs/diagrams/x.svg = docs/diagrams/x.svg.
#    -nometadata keeps the output a pure function of the source (no embedded copy of it).
#    The SVG is named after `@startuml <name>`, which must equal the file's base name (checked below).
mkdir -p docs/diagrams
touch "$stamp"
run plantuml -nometadata -tsvg -o ../docs/diagrams "${sources[@]}"

# 3. Make sure every source produced a fresh SVG under its own name (a stale one from an earlier run
#    does not count) and that none is an error picture (PlantUML draws those for syntax errors).
for src in "${sources[@]}"; do
  svg="docs/diagrams/$(basename "${src%.puml}").svg"
  if [ ! -s "$svg" ] || [ "$stamp" -nt "$svg" ]; then
    echo "check-diagrams: $src did not render to $svg (does its @startuml name match the file name?)" >&2
    exit 1
  fi
  if grep -q -e 'Syntax Error?' -e 'An error has occured' "$svg"; then
    echo "check-diagrams: $src rendered as an error image ($svg)" >&2
    exit 1
  fi
done
