#!/bin/sh
# Starts the bastion's sshd. The only per-start step: the opt-in password for the tunnel user,
# which the AppHost writes to a root-only file; it is set through chpasswd's standard input
# (never a command line) and the file is removed before sshd starts.
set -eu
# Keys and forwarding target mounted as secrets (deploy/compose); a no-op under the AppHost.
/usr/local/sbin/install-secrets
password_file=/etc/zmqaspire/secrets/tunnel-password
if [ -f "$password_file" ]; then
  { printf 'tunnel:'; cat "$password_file"; printf '\n'; } | chpasswd
  rm -f "$password_file"
fi
# sshd -e logs to stderr; send it to stdout so routine events are not shown as errors.
exec /usr/sbin/sshd -D -e "$@" 2>&1
