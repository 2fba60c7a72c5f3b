#!/usr/bin/env bash
# Stops only the daemons that scripts/slurm/setup_slurm.sh started (PIDs in $SLURM_CI_PIDDIR); cancels their jobs first.
# --purge-state also clears slurmctld's saved state (job ids start again from 1 next time).
set -uo pipefail
PIDDIR=${SLURM_CI_PIDDIR:-${TMPDIR:-/tmp}/seqfm-slurm/pids}
log() { echo "[teardown $(date +%T)] $*"; }

if [ -s "$PIDDIR/slurmctld.pid" ] && command -v squeue >/dev/null; then
  jobs=$(timeout 10 squeue -h -o '%i' 2>/dev/null || true)
  if [ -n "$jobs" ]; then log "cancelling jobs: $(echo $jobs)"; timeout 10 scancel $jobs || true; sleep 2; fi
fi

stop() {  # stop NAME [DAEMON_PIDFILE]
  local f="$PIDDIR/$1.pid" pid
  [ -s "$f" ] || return 0                       # not started by setup_slurm.sh
  pid=$(cat "$f")
  if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$1" ]; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
    if [ -d "/proc/$pid" ]; then log "$1 ($pid) ignored SIGTERM, sending SIGKILL"; kill -KILL "$pid"; fi
    log "$1 ($pid) stopped"
  else
    log "$1: pid $pid is not running (or is not $1), nothing to stop"
  fi
  # a stale /run/slurmctld.pid makes the slurmctld package's prerm run scancel and fail (apt-get remove breaks)
  if [ -n "${2:-}" ] && [ -s "$2" ] && [ "$(cat "$2")" = "$pid" ]; then rm -f "$2"; fi
  rm -f "$f"
}
stop slurmd /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop slurmdbd /run/slurmdbd.pid
stop mariadbd
stop munged /run/munge/munged.pid

if [ "${1:-}" = "--purge-state" ]; then
  rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/*
  log "slurm state purged"
fi
