#!/usr/bin/env bash
# The main job: set the machine up (idempotent), then run the AppHost. The AppHost prints the
# dashboard login URL; the client's replies show in the dashboard (Console logs > client).
# Extra arguments go to the AppHost, e.g.  eng/run.sh --ZmqAspire:ServerWorkSeconds=0.2
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO_ROOT/eng/setup.sh"
# SSL_CERT_DIR with the trusted development certificate (eng/setup.sh trusted it): the AppHost
# and what it starts see it, so the dashboard has no certificate warning to show.
. "$REPO_ROOT/eng/dev-certs-env.sh"

echo
echo "[run] building the AppHost and what it runs (the first run restores NuGet packages: a few minutes)"
dotnet build "$REPO_ROOT/ZmqAspire.AppHost" -nologo -v minimal -clp:NoSummary
echo "[run] starting the AppHost; the first start builds the bastion and server images (about a minute)"
echo "[run] open the 'Login to the dashboard' URL below; Ctrl+C stops everything"
# Background jobs ignore SIGINT, so a run started with `setsid eng/run.sh &` is stopped with SIGTERM
# to its whole process group (the AppHost, the client and Aspire's dcp): say which group that is.
echo "[run] or, from another shell: kill -TERM -- -$(ps -o pgid= -p $$ | tr -d ' ')  (this run's process group)"
cd "$REPO_ROOT"
exec dotnet run --project ZmqAspire.AppHost --no-build -- "$@"
