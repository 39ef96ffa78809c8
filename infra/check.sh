#!/usr/bin/env bash
# Static checks of infra/ — nothing here is run against a cluster or a Docker engine.
#
#   bash infra/check.sh
#   INFRA_TOOLS=/tmp/infra-tools bash infra/check.sh     # + schema validation and a Dockerfile linter
#
# 1. every YAML file parses (PyYAML; else the `yaml` npm package if it resolves from the repo root)
# 2. infra/check-manifests.py: cross-references (labels ↔ selectors, ports, env ↔ Secret keys, the
#    manual Job, the Dockerfile's paths, user, port, healthcheck) — needs PyYAML
# 3. `kubectl kustomize infra/k8s` renders (offline; skipped when kubectl is absent)
# 4. optional, when $INFRA_TOOLS has node_modules with kubernetes-models@5 and dockerfile-utils
#    (npm i --prefix "$INFRA_TOOLS" kubernetes-models@5.1.0 dockerfile-utils@0.16.3):
#    each resource against the Kubernetes JSON schemas (types and required fields; unknown fields pass),
#    and the Dockerfile through dockerfile-utils' validator (instruction syntax and flags)
# Not covered: `docker build`, `kubectl apply --dry-run=server`, hadolint — no engine or cluster here.
set -euo pipefail

infra="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$infra")"
cd "$root"

mapfile -t yamls < <(find infra -name '*.yaml' -o -name '*.yml' | sort)
ran=()
skipped=()

# ── 1. YAML parses ─────────────────────────────────────────────────────────────────────────────
if python3 -c 'import yaml' 2>/dev/null; then
  python3 - "${yamls[@]}" <<'EOF'
import sys, yaml
bad = 0
for path in sys.argv[1:]:
    try:
        list(yaml.safe_load_all(open(path)))
    except yaml.YAMLError as e:
        bad += 1
        print(f"infra/check: {path}: {e}", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
  ran+=("yaml parse (PyYAML, ${#yamls[@]} files)")
  have_pyyaml=1
elif node -e "require.resolve('yaml')" 2>/dev/null; then
  node - "${yamls[@]}" <<'EOF'
const { parseAllDocuments } = require('yaml')
const { readFileSync } = require('node:fs')
let bad = 0
for (const path of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
    for (const e of doc.errors) { bad++; console.error(`infra/check: ${path}: ${e.message}`) }
  }
}
process.exit(bad ? 1 : 0)
EOF
  ran+=("yaml parse (npm yaml, ${#yamls[@]} files)")
  have_pyyaml=0
else
  echo "infra/check: no YAML parser (python3 with PyYAML, or the npm 'yaml' package) — cannot check" >&2
  exit 2
fi

# ── 2. cross-references ────────────────────────────────────────────────────────────────────────
if [ "$have_pyyaml" = 1 ]; then
  python3 infra/check-manifests.py
  ran+=("cross-checks")
else
  skipped+=("cross-checks (need PyYAML)")
fi

# ── 2b. the player's systemd unit ──────────────────────────────────────────────────────────────
unit=infra/systemd/pixpax-player.service
for key in ExecStart= KillSignal=SIGTERM EnvironmentFile= User= WantedBy=; do
  grep -q "^$key" "$unit" || { echo "infra/check: $unit lacks $key" >&2; exit 1; }
done
# The unit runs the player's bundle (player-agent/dist/player.mjs, built by `pnpm player:build`, not
# committed): build it here, so a unit naming a file the build does not make fails the check.
exec_path="$(sed -n 's/^ExecStart=.* \([^ ]*\.m\{0,1\}[jt]s\)\( .*\)\{0,1\}$/\1/p' "$unit")"
case "$exec_path" in
  player-agent/dist/*) pnpm --silent player:build >/dev/null ;;
esac
[ -n "$exec_path" ] && [ -f "$exec_path" ] || { echo "infra/check: $unit runs '$exec_path', which is neither in the repository nor built by pnpm player:build" >&2; exit 1; }
for var in $(sed -n 's/^#\{0,1\} \{0,1\}\([A-Z_]*\)=.*/\1/p' infra/systemd/player.env.example); do
  grep -q "$var" player-agent/src/config.ts || { echo "infra/check: player.env.example sets $var, unknown to player-agent/src/config.ts" >&2; exit 1; }
done
if command -v systemd-analyze >/dev/null 2>&1; then
  # Checks the unit's syntax; missing users or paths of this machine are expected, not errors.
  if systemd-analyze verify "$unit" 2>&1 | grep -E 'Unknown (key|section)|Invalid|Failed to parse' >&2; then
    echo "infra/check: systemd-analyze verify found errors in $unit" >&2
    exit 1
  fi
  ran+=("player systemd unit (systemd-analyze)")
else
  ran+=("player systemd unit (static)")
fi

# ── 3. kustomize render ────────────────────────────────────────────────────────────────────────
if command -v kubectl >/dev/null 2>&1; then
  rendered="$(mktemp)"
  trap 'rm -f "$rendered"' EXIT
  if ! kubectl kustomize infra/k8s >"$rendered" 2>"$rendered.err"; then
    cat "$rendered.err" >&2
    rm -f "$rendered.err"
    echo "infra/check: kubectl kustomize infra/k8s failed" >&2
    exit 1
  fi
  rm -f "$rendered.err"
  ran+=("kubectl kustomize ($(grep -c '^kind:' "$rendered") resources)")
else
  skipped+=("kustomize render (no kubectl)")
fi

# ── 4. optional schema validation and Dockerfile lint ──────────────────────────────────────────
tools="${INFRA_TOOLS:-}"
if [ -n "$tools" ] && [ -d "$tools/node_modules/kubernetes-models" ] && [ "$have_pyyaml" = 1 ]; then
  docs_json="$(mktemp)"
  python3 - infra/k8s >"$docs_json" <<'EOF'
import json, sys, yaml
from pathlib import Path
out = []
for f in sorted(Path(sys.argv[1]).rglob("*.yaml")):
    for d in yaml.safe_load_all(f.read_text()):
        if d and d.get("kind") != "Kustomization":
            out.append({"file": str(f), "doc": d})
print(json.dumps(out))
EOF
  if ! node --input-type=module - "$docs_json" "$tools/node_modules/kubernetes-models" <<'EOF'; then
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
const [docsFile, models] = process.argv.slice(2)
let bad = 0
for (const { file, doc } of JSON.parse(readFileSync(docsFile, 'utf8'))) {
  // core group: kubernetes-models/v1/; others: kubernetes-models/<group>/<version>/
  const mod = await import(pathToFileURL(`${models}/${doc.apiVersion}/index.js`).href)
  const Model = mod[doc.kind]
  const where = `${file}: ${doc.kind}/${doc.metadata?.name ?? doc.metadata?.generateName}`
  if (!Model) { bad++; console.error(`infra/check: ${where}: no schema for ${doc.apiVersion}`); continue }
  try { new Model(doc).validate() } catch (e) { bad++; console.error(`infra/check: ${where}: ${e.message}`) }
}
process.exit(bad ? 1 : 0)
EOF
    rm -f "$docs_json"
    echo "infra/check: schema validation failed" >&2
    exit 1
  fi
  rm -f "$docs_json"
  ran+=("kubernetes-models schema validation")
else
  skipped+=("schema validation (set INFRA_TOOLS)")
fi
if [ -n "$tools" ] && [ -d "$tools/node_modules/dockerfile-utils" ]; then
  node - "$tools/node_modules/dockerfile-utils" infra/Dockerfile.relay <<'EOF'
const [lib, file] = process.argv.slice(2)
const { validate } = require(lib)
const problems = validate(require('node:fs').readFileSync(file, 'utf8'))
for (const p of problems) console.error(`infra/check: ${file}:${p.range.start.line + 1}: ${p.message}`)
process.exit(problems.length ? 1 : 0)
EOF
  ran+=("dockerfile-utils lint")
else
  skipped+=("Dockerfile lint (set INFRA_TOOLS)")
fi

echo "infra/check: ok — ran: $(IFS=';'; echo "${ran[*]}" | sed 's/;/, /g')"
if [ ${#skipped[@]} -gt 0 ]; then
  echo "infra/check: skipped: $(IFS=';'; echo "${skipped[*]}" | sed 's/;/, /g')"
fi
