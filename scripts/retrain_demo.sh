#!/usr/bin/env bash
# The README's "Promotion on the default data", reproduced in a fresh clone of this repository:
# train on weeks 1-6 of the default data, refuse a worse run, check drift on weeks 7-8, retrain
# on them, and retrain again (a no-op). Most of an hour on a 2-core CPU, venv included. Usage:
#     scripts/retrain_demo.sh            # logs in the printed temporary directory
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d); echo "demo dir $D"; cd "$D"; git clone -q "$REPO" demo; cd demo
git log --oneline -1
make data >/dev/null
.venv/bin/python - <<'PY'
import json
lines = open("data/raw/alerts.jsonl").read().splitlines()
early = [l for l in lines if json.loads(l)["@timestamp"] < "2026-02-16"]
late = [l for l in lines if json.loads(l)["@timestamp"] >= "2026-02-16"]
open("data/raw/alerts.jsonl", "w").write("\n".join(early) + "\n")
open("../weeks7-8.jsonl", "w").write("\n".join(late) + "\n")
print(f"weeks 1-6: {len(early)} alerts; weeks 7-8: {len(late)} alerts")
PY
export PATH=$PWD/.venv/bin:$PATH
dvc add -q data/raw
echo "== first run"; s=$(date +%s); dvc exp run >../run1.log 2>&1; echo "first run $(( $(date +%s)-s )) s"
grep -E "^(prepare|teacher|harden|distill|evaluate|promote):" -A3 ../run1.log | grep -v "^--" | cut -c1-400
alertlens audit champion | head -30
echo "== worse run"; s=$(date +%s); dvc exp run -S surrogate.n_estimators=5 >../run2.log 2>&1; echo "worse run $(( $(date +%s)-s )) s"
grep -E "^promote:" -A12 ../run2.log | cut -c1-300
echo "== drift"; alertlens drift --new-data ../weeks7-8.jsonl 2>&1 | tail -25
echo "== retrain"; s=$(date +%s); alertlens retrain --new-data ../weeks7-8.jsonl >../run3.log 2>&1; echo "retrain $(( $(date +%s)-s )) s"
tail -30 ../run3.log | cut -c1-300
alertlens audit champion | head -30
echo "== retrain again"; alertlens retrain --new-data ../weeks7-8.jsonl 2>&1 | tail -5
