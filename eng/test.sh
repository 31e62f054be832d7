#!/usr/bin/env bash
# Runs every test: set the machine up (idempotent), build, then the test projects in turn
# (the AppHost tests run real containers; the tunnelling tests start a real sshd).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO_ROOT/eng/setup.sh"
cd "$REPO_ROOT"

echo
echo "[test] building"
dotnet build ZmqAspire.sln -nologo -v quiet -clp:NoSummary

status=0
for project in tests/*/*.csproj; do
  echo
  echo "[test] $project"
  dotnet test "$project" --no-build -nologo --logger "console;verbosity=normal" \
    --results-directory "$REPO_ROOT/artifacts/test-results" || status=1
done
exit $status
