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
# tunnel-shell's one line per session (a "sleep" accepted, anything else refused) reaches the
# container's log through this FIFO: the shell runs as the tunnel user, which cannot write to
# sshd's output (only tunnel sessions write to it, so its group may read it too: a writer opens it
# read-write, which never blocks). The reader holds it open read-write, so it never sees end-of-file.
install -d -o root -g root -m 0755 /run/zmqaspire
rm -f /run/zmqaspire/session-log
mkfifo -m 0660 /run/zmqaspire/session-log
chgrp tunnel /run/zmqaspire/session-log
cat 0<>/run/zmqaspire/session-log &
# sshd -e logs to stderr; send it to stdout so routine events are not shown as errors.
exec /usr/sbin/sshd -D -e "$@" 2>&1
