#!/usr/bin/env python3
"""Static cross-checks of infra/: what a YAML parser and a schema cannot see.

Run by infra/check.sh (needs PyYAML). Nothing here talks to a cluster or a Docker engine: it checks that
the files agree with each other and with the repository (names, ports, labels, env, paths).
Exit 1 on an error; warnings (things that are expected to exist later) do not fail the check.
"""
import json
import re
import sys
from pathlib import Path

import yaml

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent
K8S = INFRA / "k8s"
NAMESPACE = "pixpax"

# ARCHITECTURE §5 / the infra brief: the relay's production configuration, all from Secret relay-env.
RELAY_SECRET_KEYS = {
    "DATABASE_URL", "S3_ENDPOINT", "S3_REGION", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY",
    "S3_FORCE_PATH_STYLE", "VAULT_ADDR", "VAULT_TOKEN", "VAULT_TRANSIT_KEY",
    "MQTT_URL", "MQTT_DEVICE_URL", "MQTT_ADMIN_USERNAME", "MQTT_ADMIN_PASSWORD", "MQTT_DEVICE_SECRET",
}
# Keys a Secret may lack (the pod still starts): a default that fits Spaces, and the optional MQTT bridge.
OPTIONAL_SECRET_KEYS = {
    "S3_FORCE_PATH_STYLE", "MQTT_URL", "MQTT_DEVICE_URL", "MQTT_ADMIN_USERNAME", "MQTT_ADMIN_PASSWORD", "MQTT_DEVICE_SECRET",
}

errors: list[str] = []
warnings: list[str] = []


def err(msg: str) -> None:
    errors.append(msg)


def warn(msg: str) -> None:
    warnings.append(msg)


def load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


# ── load everything ─────────────────────────────────────────────────────────────────────────────
files = sorted(K8S.rglob("*.yaml"))
docs: list[tuple[Path, dict]] = []
for f in files:
    for d in load(f):
        if not isinstance(d, dict):
            err(f"{f.relative_to(ROOT)}: a document is not a mapping")
            continue
        docs.append((f, d))

kustomization = next((d for f, d in docs if d.get("kind") == "Kustomization"), None)
resources = [(f, d) for f, d in docs if d.get("kind") != "Kustomization"]


def by_kind(kind: str) -> list[tuple[Path, dict]]:
    return [(f, d) for f, d in resources if d.get("kind") == kind]


def name_of(d: dict) -> str:
    md = d.get("metadata") or {}
    return md.get("name") or md.get("generateName") or "?"


# ── every resource: identity and namespace ─────────────────────────────────────────────────────
for f, d in resources:
    where = f"{f.relative_to(ROOT)}: {d.get('kind', '?')}/{name_of(d)}"
    for field in ("apiVersion", "kind", "metadata"):
        if field not in d:
            err(f"{where}: missing {field}")
    md = d.get("metadata") or {}
    if not (md.get("name") or md.get("generateName")):
        err(f"{where}: metadata.name (or generateName) missing")
    if d.get("kind") != "Namespace" and md.get("namespace") != NAMESPACE:
        err(f"{where}: metadata.namespace must be {NAMESPACE!r} (got {md.get('namespace')!r})")
    if (md.get("labels") or {}).get("app.kubernetes.io/part-of") != "pixpax":
        err(f"{where}: label app.kubernetes.io/part-of: pixpax missing")

# ── kustomization: lists every top-level manifest, never the manual Job ─────────────────────────
if kustomization is None:
    err("infra/k8s/kustomization.yaml missing")
else:
    listed = set(kustomization.get("resources") or [])
    top = {f.name for f in K8S.glob("*.yaml") if f.name != "kustomization.yaml"}
    for missing in sorted(top - listed):
        err(f"infra/k8s/{missing} is not listed in kustomization.yaml resources")
    for extra in sorted(listed - top):
        err(f"kustomization.yaml lists {extra}, which does not exist in infra/k8s/")
    for r in listed:
        if r.startswith("manual"):
            err(f"kustomization.yaml must not list {r}: manual Jobs are run by hand")
    images = {i.get("name") for i in kustomization.get("images") or []}

# ── workloads: selectors, ports, probes ────────────────────────────────────────────────────────
workloads = by_kind("Deployment") + by_kind("StatefulSet")
pod_labels: dict[str, dict] = {}  # workload name → template labels
container_ports: dict[str, set] = {}  # workload name → named ports

for f, d in workloads:
    where = f"{f.relative_to(ROOT)}: {d['kind']}/{name_of(d)}"
    spec = d.get("spec") or {}
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    tmpl = spec.get("template") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        err(f"{where}: selector.matchLabels {sel} not all in the template labels {labels}")
    pod_labels[name_of(d)] = labels
    names = set()
    for c in (tmpl.get("spec") or {}).get("containers") or []:
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        names |= set(ports)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            http = ((c.get(probe) or {}).get("httpGet")) or {}
            if http and http.get("port") not in ports and http.get("port") not in ports.values():
                err(f"{where}: {probe} uses port {http.get('port')!r}, not a container port")
        for m in c.get("volumeMounts") or []:
            vols = {v.get("name") for v in (tmpl.get("spec") or {}).get("volumes") or []}
            vcts = {(v.get("metadata") or {}).get("name") for v in spec.get("volumeClaimTemplates") or []}
            if m.get("name") not in vols | vcts:
                err(f"{where}: volumeMount {m.get('name')!r} has no volume")
    container_ports[name_of(d)] = names

# ── services select a workload and target its named ports ─────────────────────────────────────
services: dict[str, dict] = {}
for f, d in by_kind("Service"):
    where = f"{f.relative_to(ROOT)}: Service/{name_of(d)}"
    spec = d.get("spec") or {}
    services[name_of(d)] = spec
    sel = spec.get("selector") or {}
    targets = [w for w, labels in pod_labels.items() if sel and all(labels.get(k) == v for k, v in sel.items())]
    if not targets:
        err(f"{where}: selector {sel} matches no workload's pod labels")
    for p in spec.get("ports") or []:
        tp = p.get("targetPort")
        if isinstance(tp, str) and not any(tp in container_ports.get(w, set()) for w in targets):
            err(f"{where}: targetPort {tp!r} is not a named port of {targets}")

for f, d in by_kind("StatefulSet"):
    if (d.get("spec") or {}).get("serviceName") not in services:
        err(f"{f.relative_to(ROOT)}: StatefulSet/{name_of(d)} serviceName has no Service")

# ── ingress → service → port ──────────────────────────────────────────────────────────────────
for f, d in by_kind("Ingress"):
    where = f"{f.relative_to(ROOT)}: Ingress/{name_of(d)}"
    ann = (d.get("metadata") or {}).get("annotations") or {}
    for key in ("nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"):
        v = ann.get(key)
        if not (isinstance(v, str) and v.isdigit() and int(v) >= 600):
            err(f"{where}: {key} must be a quoted number of seconds ≥ 600 for WebSockets (got {v!r})")
    for rule in (d.get("spec") or {}).get("rules") or []:
        for path in ((rule.get("http") or {}).get("paths")) or []:
            svc = ((path.get("backend") or {}).get("service")) or {}
            if svc.get("name") not in services:
                err(f"{where}: backend service {svc.get('name')!r} not defined")
                continue
            port = (svc.get("port") or {})
            names = {p.get("name") for p in services[svc["name"]].get("ports") or []}
            numbers = {p.get("port") for p in services[svc["name"]].get("ports") or []}
            if port.get("name") not in names and port.get("number") not in numbers:
                err(f"{where}: backend port {port} not on Service/{svc['name']}")

# ── PDB and HPA point at the relay ─────────────────────────────────────────────────────────────
deployments = {name_of(d): d for _, d in by_kind("Deployment")}
for f, d in by_kind("PodDisruptionBudget"):
    sel = ((d.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not any(all(l.get(k) == v for k, v in sel.items()) for l in pod_labels.values()):
        err(f"{f.relative_to(ROOT)}: PodDisruptionBudget selector {sel} matches no pods")
for f, d in by_kind("HorizontalPodAutoscaler"):
    spec = d.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    target = deployments.get(ref.get("name"))
    if ref.get("kind") != "Deployment" or target is None:
        err(f"{f.relative_to(ROOT)}: scaleTargetRef {ref} is not a Deployment here")
    elif (target.get("spec") or {}).get("replicas", 1) < spec.get("minReplicas", 1):
        err(f"{f.relative_to(ROOT)}: minReplicas above the Deployment's replicas")

# ── the relay Deployment specifically ──────────────────────────────────────────────────────────
relay = deployments.get("relay")
if relay is None:
    err("Deployment/relay missing")
else:
    pod = relay["spec"]["template"]["spec"]
    c = next((c for c in pod["containers"] if c.get("name") == "relay"), None) or {}
    env = {e["name"]: e for e in c.get("env") or []}
    if relay["spec"].get("replicas") != 3:
        err("Deployment/relay: replicas should be 3")
    if kustomization is not None and c.get("image") not in images:
        err(f"Deployment/relay: image {c.get('image')!r} is not rewritten by kustomization images")
    secret_keys = set()
    for name, e in env.items():
        ref = ((e.get("valueFrom") or {}).get("secretKeyRef")) or {}
        if ref:
            if ref.get("name") != "relay-env" or ref.get("key") != name:
                err(f"Deployment/relay: env {name} should come from relay-env key {name}")
            if bool(ref.get("optional")) != (name in OPTIONAL_SECRET_KEYS):
                want = "optional" if name in OPTIONAL_SECRET_KEYS else "required (a missing key must keep the pod from starting)"
                err(f"Deployment/relay: relay-env key {name} should be {want}")
            secret_keys.add(name)
    if secret_keys != RELAY_SECRET_KEYS:
        err(f"Deployment/relay: secret env {sorted(secret_keys)} ≠ expected {sorted(RELAY_SECRET_KEYS)}")
    if "RELAY_KEY_FILE" in env:
        err("Deployment/relay: RELAY_KEY_FILE must be unset in production (Vault Transit signs)")
    port = next((p["containerPort"] for p in c.get("ports") or [] if p.get("name") == "http"), None)
    if (env.get("PORT") or {}).get("value") != str(port):
        err(f"Deployment/relay: env PORT {env.get('PORT')} ≠ containerPort {port}")
    if (env.get("HOST") or {}).get("value") != "0.0.0.0":
        err("Deployment/relay: HOST must be 0.0.0.0 (probes and the Service reach the pod IP)")
    probes = {p: ((c.get(p) or {}).get("httpGet") or {}).get("path") for p in ("livenessProbe", "readinessProbe")}
    if probes != {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}:
        err(f"Deployment/relay: probes {probes} (want liveness /healthz, readiness /readyz)")
    res = c.get("resources") or {}
    if not (res.get("requests") or {}).get("cpu"):
        err("Deployment/relay: resources.requests.cpu needed (the HPA computes utilization from it)")
    sc = c.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem") and not any(m.get("mountPath") == "/tmp" for m in c.get("volumeMounts") or []):
        err("Deployment/relay: read-only root needs a writable /tmp (tsx cache)")
    if not (pod.get("securityContext") or {}).get("runAsNonRoot"):
        err("Deployment/relay: runAsNonRoot not set")

# relay.env.example documents exactly the Secret's keys.
example = INFRA / "relay.env.example"
keys = {l.split("=", 1)[0] for l in example.read_text().splitlines() if l and not l.startswith("#")}
if keys != RELAY_SECRET_KEYS:
    err(f"infra/relay.env.example keys {sorted(keys)} ≠ {sorted(RELAY_SECRET_KEYS)}")

# ── the manual Job ─────────────────────────────────────────────────────────────────────────────
for f, d in by_kind("Job"):
    where = f"{f.relative_to(ROOT)}: Job/{name_of(d)}"
    if "manual" not in f.parts:
        err(f"{where}: Jobs live in infra/k8s/manual/ so `kubectl apply -k` never starts one")
    if "generateName" not in (d.get("metadata") or {}):
        err(f"{where}: use generateName so each `kubectl create` is a new run")
    for c in d["spec"]["template"]["spec"]["containers"]:
        cmd = c.get("command") or []
        ts = next((a for a in cmd if a.endswith(".ts")), None)
        if ts and not (ROOT / ts).exists():
            warn(f"{where}: runs {ts}, which does not exist yet (the relay CLI is not written)")

# ── Dockerfile ─────────────────────────────────────────────────────────────────────────────────
dockerfile = INFRA / "Dockerfile.relay"
text = dockerfile.read_text()
lines = [l.strip() for l in re.sub(r"\\\n", " ", text).splitlines() if l.strip() and not l.strip().startswith("#")]
instr = [(l.split()[0].upper(), l) for l in lines]
froms = [l for k, l in instr if k == "FROM"]
if not froms or any(not re.match(r"FROM node:20-slim(\s|$)", l) for l in froms):
    err(f"Dockerfile.relay: every stage should be FROM node:20-slim (got {froms})")
pm = json.loads((ROOT / "package.json").read_text()).get("packageManager", "")
if f"npm i -g {pm}" not in text:
    err(f"Dockerfile.relay: should install exactly the root packageManager ({pm}) with npm i -g")
if "pnpm install --frozen-lockfile" not in text or "--filter @pixpax/sync-server..." not in text:
    err("Dockerfile.relay: pnpm install --frozen-lockfile --filter @pixpax/sync-server... missing")
for k, l in instr:
    if k == "COPY" and "--from=" not in l:
        for src in l.split()[1:-1]:
            if not src.startswith("--") and not (ROOT / src).exists():
                err(f"Dockerfile.relay: COPY source {src} does not exist in the repository")
last_stage = text[text.rindex("FROM "):]
users = re.findall(r"^USER\s+(\S+)", last_stage, re.M)
if not users or users[-1] in ("root", "0"):
    err("Dockerfile.relay: the runtime stage must end as a non-root USER")
if not re.search(r"^EXPOSE 8787$", last_stage, re.M) or "PORT=8787" not in last_stage:
    err("Dockerfile.relay: PORT 8787 must be set and exposed in the runtime stage")
if "/healthz" not in (re.search(r"^HEALTHCHECK.*", re.sub(r"\\\n", " ", last_stage), re.M) or [""])[0]:
    err("Dockerfile.relay: HEALTHCHECK should request /healthz")
cmd = re.findall(r"^CMD (\[.*\])$", last_stage, re.M)
if not cmd:
    err("Dockerfile.relay: CMD must be in exec (JSON) form so node receives SIGTERM")
else:
    argv = json.loads(cmd[-1])
    if argv[:3] != ["node", "--import", "tsx"]:
        err(f"Dockerfile.relay: CMD {argv} should be node --import tsx <entry>")
    entry = argv[-1]
    if not (ROOT / entry).exists():
        warn(f"Dockerfile.relay: CMD runs {entry}, which does not exist yet")
ignore = INFRA / "Dockerfile.relay.dockerignore"
if "**/node_modules" not in ignore.read_text().split():
    err("Dockerfile.relay.dockerignore must exclude **/node_modules")

for w in warnings:
    print(f"infra/check: warning: {w}", file=sys.stderr)
for e in errors:
    print(f"infra/check: error: {e}", file=sys.stderr)
print(f"cross-checks: {len(resources)} resources in {len(files)} files, {len(errors)} errors, {len(warnings)} warnings")
sys.exit(1 if errors else 0)
