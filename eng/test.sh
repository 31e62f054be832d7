#!/usr/bin/env bash
# Runs every test: set the machine up (idempotent), build, then the test projects in turn
# (the AppHost tests run real containers; the tunnelling tests start a real sshd; the deployment
# tests bring the Docker Compose deployment up and down, with pyzmq peers).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# --with-browser: the dashboard tests drive Debian's chromium.
"$REPO_ROOT/eng/setup.sh" --with-browser
# SSL_CERT_DIR with the trusted development certificate, as eng/run.sh and new login shells have it.
. "$REPO_ROOT/eng/dev-certs-env.sh"
cd "$REPO_ROOT"

echo
echo "[test] building"
dotnet build ZmqAspire.sln -nologo -v minimal -clp:NoSummary

results="$REPO_ROOT/artifacts/test-results"
rm -rf "$results"
status=0

# The deployment images (deploy/compose) that tests/ZmqAspire.Deployment.Tests runs; a failed
# build fails the run, and those tests then say the images are missing.
echo
echo "[test] building the deployment images"
"$REPO_ROOT/eng/build-images.sh" || status=1

for project in tests/*/*.csproj; do
  name="$(basename "$project" .csproj)"
  # Test support libraries (tests/ZmqAspire.Testing.*) hold no tests.
  case "$name" in ZmqAspire.Testing.*) continue ;; esac
  echo
  echo "[test] $project"
  dotnet test "$project" --no-build -nologo --logger "console;verbosity=normal" \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" || status=1
done

# A smoke run of the benchmark (bench/ZmqAspire.Benchmarks, docs/benchmarks.md): seconds, tiny
# counts, against its own loopback sshd and ssh -L; it fails unless every mode produced numbers.
echo
echo "[test] benchmark smoke run"
dotnet run --project bench/ZmqAspire.Benchmarks -c Release -- --smoke \
  --out "$REPO_ROOT/artifacts/bench/smoke.json" || status=1

# What the run built (images, build cache) goes; the base images stay, and eng/clean.sh fails
# if one went or a project image was left (issue #21).
echo
echo "[test] removing the images and build cache the run made"
"$REPO_ROOT/eng/clean.sh" || status=1

# One closing line over every project, from the TRX counters.
/usr/bin/python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
failures = []
for trx in sorted(glob.glob(sys.argv[1] + "/*.trx")):
    root = ET.parse(trx).getroot()
    c = root.find(".//{*}Counters")
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    skipped += int(c.get("notExecuted", 0))
    for r in root.findall(".//{*}UnitTestResult"):
        if r.get("outcome") not in ("Passed", "NotExecuted"):
            message = r.find(".//{*}Message")
            first = (message.text or "").strip().splitlines()[:1] if message is not None else []
            failures.append(f"  {r.get('outcome')}: {r.get('testName')}" + (f"\n    {first[0][:300]}" if first else ""))
# The failed tests' names come last, beside the count, so that a log's tail says what failed.
if failures:
    print("\nnot passed:\n" + "\n".join(failures))
print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
