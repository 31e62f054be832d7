#!/usr/bin/env bash
# Runs every test: set the machine up (idempotent), build, then the test projects in turn
# (the AppHost tests run real containers; the tunnelling tests start a real sshd).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO_ROOT/eng/setup.sh"
cd "$REPO_ROOT"

echo
echo "[test] building"
dotnet build ZmqAspire.sln -nologo -v minimal -clp:NoSummary

results="$REPO_ROOT/artifacts/test-results"
rm -rf "$results"
status=0
for project in tests/*/*.csproj; do
  name="$(basename "$project" .csproj)"
  echo
  echo "[test] $project"
  dotnet test "$project" --no-build -nologo --logger "console;verbosity=normal" \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" || status=1
done

# One closing line over every project, from the TRX counters.
/usr/bin/python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for trx in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(trx).getroot().find(".//{*}Counters")
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    skipped += int(c.get("notExecuted", 0))
print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
