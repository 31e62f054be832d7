#!/bin/sh
# The node's dockerd in the foreground, as the container's main process (docker run --init
# reaps for it); it starts and supervises its own containerd. Its log is the container log.
# Arguments go to dockerd (eng/swarm.sh passes none).
set -e
# The container is not --privileged (see eng/swarm.sh) but has the capabilities and security
# options a dockerd needs; what Docker still mounts read-only for an unprivileged container,
# sysfs and the cgroup hierarchies (this container's own, in its cgroup namespace), dockerd must
# write: remount them read-write.
mount -o remount,rw /sys
for cg in /sys/fs/cgroup /sys/fs/cgroup/*; do
  if mountpoint -q "$cg"; then mount -o remount,rw "$cg" 2>/dev/null || mount -o remount,bind,rw "$cg"; fi
done
# A stale pid file from a restarted container would stop dockerd.
rm -f /var/run/docker.pid
exec dockerd --host unix:///var/run/docker.sock --storage-driver overlay2 "$@"
