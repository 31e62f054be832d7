#!/usr/bin/env bash
# Rewrites PublicAPI.Unshipped.txt of every packable project that has a PublicAPI.Shipped.txt
# (Microsoft.CodeAnalysis.PublicApiAnalyzers, on by convention in Directory.Build.targets), from
# the code as it is: run it after changing a public API, then review the diff.
#   eng/public-api.sh [project.csproj...]
# Until a version ships, Shipped holds only the header, so Unshipped is made afresh: that drops
# removed members (RS0017) as well as adding new ones (RS0016, `dotnet format analyzers`).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
if [ "$#" -gt 0 ]; then
  projects=("$@")
else
  mapfile -t projects < <(for f in src/*/PublicAPI.Shipped.txt; do ls "$(dirname "$f")"/*.csproj; done)
fi
for project in "${projects[@]}"; do
  dir="$(dirname "$project")"
  echo "[public-api] $project"
  if [ "$(grep -cv '^#nullable enable$' "$dir/PublicAPI.Shipped.txt" || true)" -eq 0 ]; then
    printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
  fi
  dotnet format analyzers "$project" --diagnostics RS0016 --severity info -v quiet
done
