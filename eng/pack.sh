#!/usr/bin/env bash
# Packs every packable project (IsPackable=true in its .csproj: today the hosting integration, zmq-tunnel,
# tunnelling, messaging and the SshTunnel client integration) into artifacts/packages, with
# symbols (.snupkg), at the one version in Directory.Build.props.
#   eng/pack.sh [output-folder] [extra dotnet pack arguments...]
# e.g. eng/pack.sh /tmp/feed -p:VersionSuffix=ci.42 -p:ZmqAspireRepositoryUrl=https://...
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
out="${1:-artifacts/packages}"
[ "$#" -gt 0 ] && shift
mkdir -p "$out"
out="$(cd "$out" && pwd)"
# Packable by convention: each project says so itself, so a new package needs no change here.
mapfile -t projects < <(grep -l '<IsPackable>true</IsPackable>' src/*/*.csproj | sort)
if [ "${#projects[@]}" -eq 0 ]; then
  echo "pack: no project under src/ sets IsPackable=true" >&2
  exit 1
fi
for project in "${projects[@]}"; do
  echo "[pack] $project"
  dotnet pack "$project" -c Release -nologo -v quiet -clp:NoSummary -o "$out" "$@"
done
ls -1 "$out"
