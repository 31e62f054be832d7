#!/usr/bin/env bash
# Makes the ASP.NET Core development certificate and trusts it for the current user, as .NET
# supports it on Linux (docs/security.md, "The development certificate"). Run by eng/setup.sh;
# idempotent (a check first, a second or so once done). Fails loudly when the certificate is
# still not fully trusted afterwards: the dashboard would show its red banner again.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# The checks below, like `aspire run`'s, count OpenSSL trust only through SSL_CERT_DIR.
. "$REPO_ROOT/eng/dev-certs-env.sh"

# Chromium's NSS database: dev-certs adds the certificate only to databases that exist, and a
# database Chromium made later would lack it (`aspire run` then reports partial trust).
nssdb="$HOME/.pki/nssdb"
if [ ! -f "$nssdb/cert9.db" ]; then
  mkdir -p "$nssdb"
  certutil -N -d "sql:$nssdb" --empty-password
fi

if dotnet dev-certs https --check --trust >/dev/null 2>&1; then
  echo "  development certificate present and trusted"
else
  echo "  making and trusting the ASP.NET Core development certificate (dotnet dev-certs https --trust)"
  dotnet dev-certs https --trust | sed 's/^/  /' || true
  if ! dotnet dev-certs https --check --trust; then
    echo "the development certificate is not fully trusted (see above); the dashboard will show an error banner" >&2
    exit 1
  fi
fi

# New login shells get SSL_CERT_DIR too (for `aspire run`, README "aspire run").
profile=/etc/profile.d/zmqaspire-dev-certs.sh
if ! cmp -s "$REPO_ROOT/eng/dev-certs-env.sh" "$profile"; then
  sudo_if_needed install -m 0644 "$REPO_ROOT/eng/dev-certs-env.sh" "$profile"
  echo "  installed $profile (SSL_CERT_DIR for new login shells; this shell: . eng/dev-certs-env.sh)"
fi
