#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for seqfm's cluster test (tests/test_cluster.py) and for
# trying the SLURM profile (workflow/profiles/slurm) by hand. Debian 12 / slurm-wlm 22.05; needs root
# and apt-get; no systemd, no cgroups, no accounting database.
# Idempotent: installs packages if missing, (re)writes slurm.conf, starts munged, slurmctld and slurmd
# as background daemons unless already running from an earlier call, waits until the node is idle
# and a real job has run through slurmctld + slurmd.
#   SLURM_CI_FAKE_GPU=1    the node offers one schedulable 'gpu' GRES with no device behind it, so a
#                          job's GPU request is scheduled for real while CUDA stays absent
#   SLURM_CI_ACCOUNTING=1  additionally runs mariadbd + slurmdbd so that sacct works (not needed)
#   SLURM_CI_PARTITION     partition name (default: debug)
#   SLURM_CI_PIDDIR        where the PIDs of the daemons it starts go (read by teardown.sh)
# Stop everything it started with scripts/slurm/teardown.sh.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then echo "setup_slurm.sh: needs root (installs packages, runs daemons)" >&2; exit 2; fi

PIDDIR=${SLURM_CI_PIDDIR:-${TMPDIR:-/tmp}/seqfm-slurm/pids}
PARTITION=${SLURM_CI_PARTITION:-debug}
ACCOUNTING=${SLURM_CI_ACCOUNTING:-0}
FAKE_GPU=${SLURM_CI_FAKE_GPU:-0}   # 1: the node offers one schedulable 'gpu' GRES backed by /dev/null (no device)
NODE=$(hostname -s)
mkdir -p "$PIDDIR"
log() { echo "[setup_slurm $(date +%T)] $*"; }

# --- 1. packages -------------------------------------------------------------------------------
pkgs=""
for b in slurmctld slurmd sbatch munged; do command -v $b >/dev/null || { pkgs="slurmctld slurmd slurm-client munge"; break; }; done
if [ "$ACCOUNTING" = 1 ]; then
  for b in slurmdbd mariadbd; do command -v $b >/dev/null || { pkgs="$pkgs slurmdbd mariadb-server"; break; }; done
fi
if [ -n "$pkgs" ]; then
  log "installing $pkgs"
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep postinst scripts from starting daemons via init.d
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  command -v apt-get >/dev/null || { echo "setup_slurm.sh: apt-get not found (Debian/Ubuntu only)" >&2; exit 2; }
  apt-get update -q
  apt-get install -y -q --no-install-recommends $pkgs
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# --- 2. config -----------------------------------------------------------------------------------
# munge key: Debian's postinst creates one; make sure it exists anyway.
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
    || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
install -d -o slurm -g slurm -m 0755 /var/lib/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm

CPUS=$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')
MEM=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
MEM=${SLURM_CI_REALMEM_MB:-$(( MEM * 9 / 10 ))}    # below the real value, else the node drains

if [ "$ACCOUNTING" = 1 ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux"
else   # no slurmdbd: sacct fails with "Slurm accounting storage is disabled"; use squeue
  ACCT="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi

mkdir -p /etc/slurm
GRES_TYPES=""; NODE_GRES=""
if [ "$FAKE_GPU" = 1 ]; then   # a count-only gres.conf entry makes the node INVAL (0 < 1); a File is needed
  GRES_TYPES="GresTypes=gpu"; NODE_GRES="Gres=gpu:1"
  printf 'AutoDetect=off\nName=gpu File=/dev/null\n' > /etc/slurm/gres.conf
else
  rm -f /etc/slurm/gres.conf
fi
cat > /etc/slurm/slurm.conf.new <<EOF
ClusterName=ci
SlurmctldHost=${NODE}(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
SlurmUser=slurm
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups / no systemd: plain process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
${ACCT}
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
InactiveLimit=0
KillWait=5
# finished jobs stay visible to 'squeue --states=all' for 30 min: the snakemake slurm plugin needs
# >= 3x its first poll delay, and tests/test_cluster.py reads every job's state after a run
MinJobAge=1800
Waittime=0
${GRES_TYPES}
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} ${NODE_GRES} State=UNKNOWN
PartitionName=${PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
conf_changed=0
if ! cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; then
  mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; conf_changed=1
else
  rm -f /etc/slurm/slurm.conf.new
fi

# --- 3. daemons ----------------------------------------------------------------------------------
alive() {  # alive NAME: true if the PID in $PIDDIR/NAME.pid runs a process called NAME
  local f="$PIDDIR/$1.pid" pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$1" ]
}
wait_pidfile() {  # wait_pidfile FILE NAME -> copies the daemon's PID into $PIDDIR/NAME.pid
  for _ in $(seq 1 100); do
    if [ -s "$1" ] && [ -r "/proc/$(cat "$1")/comm" ]; then cp "$1" "$PIDDIR/$2.pid"; return 0; fi
    sleep 0.1
  done
  echo "$2 did not write $1" >&2; return 1
}
stop_ours() {  # stop_ours NAME: stop a daemon this script started earlier (config changed)
  alive "$1" || return 0
  local pid; pid=$(cat "$PIDDIR/$1.pid"); kill -TERM "$pid"
  for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
  rm -f "$PIDDIR/$1.pid"; log "$1 ($pid) stopped for restart"
}

t0=$(date +%s.%N)
if alive munged || munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "munged already running"
else
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged          # forks into the background
  wait_pidfile /run/munge/munged.pid munged
  log "munged started, pid $(cat "$PIDDIR/munged.pid")"
fi

if [ "$ACCOUNTING" = 1 ]; then
  if alive mariadbd; then log "mariadbd already running"; else
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
    nohup /usr/sbin/mariadbd --user=mysql --skip-networking >/var/log/slurm/mariadbd.log 2>&1 &
    echo $! > "$PIDDIR/mariadbd.pid"
    for _ in $(seq 1 150); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
    log "mariadbd started, pid $(cat "$PIDDIR/mariadbd.pid")"
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmci';
    ALTER USER 'slurm'@'localhost' IDENTIFIED BY 'slurmci';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
  cat > /etc/slurm/slurmdbd.conf <<'EOF'
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
DebugLevel=info
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmci
StorageLoc=slurm_acct_db
EOF
  chown slurm:slurm /etc/slurm/slurmdbd.conf; chmod 0600 /etc/slurm/slurmdbd.conf
  if alive slurmdbd; then log "slurmdbd already running"; else
    rm -f /run/slurmdbd.pid
    /usr/sbin/slurmdbd                           # daemonizes
    wait_pidfile /run/slurmdbd.pid slurmdbd
    for _ in $(seq 1 100); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.2; done
    log "slurmdbd started, pid $(cat "$PIDDIR/slurmdbd.pid")"
  fi
  sacctmgr -n list cluster format=cluster | grep -qw ci || sacctmgr -i add cluster ci >/dev/null
fi

if [ "$conf_changed" = 1 ]; then stop_ours slurmd; stop_ours slurmctld; fi
if alive slurmctld; then log "slurmctld already running"; else
  rm -f /run/slurmctld.pid
  /usr/sbin/slurmctld                            # daemonizes
  wait_pidfile /run/slurmctld.pid slurmctld
  log "slurmctld started, pid $(cat "$PIDDIR/slurmctld.pid")"
fi
if alive slurmd; then log "slurmd already running"; else
  rm -f /run/slurmd.pid
  /usr/sbin/slurmd                               # daemonizes
  wait_pidfile /run/slurmd.pid slurmd
  log "slurmd started, pid $(cat "$PIDDIR/slurmd.pid")"
fi

# --- 4. wait for the node --------------------------------------------------------------------------
state=""
for _ in $(seq 1 120); do
  state=$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null || true)
  case "$state" in
    idle|mixed|allocated) break ;;
    drained|draining|down|down\*|drained\*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
  esac
  sleep 0.5
done
case "$state" in idle|mixed|allocated) ;; *)
  echo "node $NODE not ready (state '$state')" >&2
  tail -n 30 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  exit 1 ;;
esac
timeout 60 srun -N1 -n1 -t 1 true                 # a real job through slurmctld + slurmd
if [ "$FAKE_GPU" = 1 ]; then                       # and one holding the GPU GRES
  timeout 60 srun -N1 -n1 -t 1 --gpus=1 true
fi
log "SLURM ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s: node $NODE $state, partition $PARTITION, accounting=$ACCOUNTING"
sinfo
