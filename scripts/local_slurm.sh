#!/usr/bin/env bash
# A real single-node Slurm (Debian's slurmctld + slurmd, no systemd) for tests and
# for trying the jobs/ scripts on a workstation. Everything — config, state,
# spool, logs, pid files — lives in $SLURM_LAB_DIR; the daemons listen on
# loopback only, authenticate with auth/none and run as root.
#
#   scripts/local_slurm.sh install          apt-get install slurmctld slurmd slurm-client (--no-install-recommends) if missing
#   scripts/local_slurm.sh start            fresh cluster (state wiped, job ids restart); no-op when already up
#   scripts/local_slurm.sh stop             TERM the daemons by PID (from our pid files only); no-op when stopped
#   scripts/local_slurm.sh status           daemons' PIDs, sinfo, squeue; exit 0 when up
#   scripts/local_slurm.sh env              prints `export SLURM_CONF=…` (eval it before sbatch/squeue/…)
#   scripts/local_slurm.sh wait JOBID [S]   polls scontrol until JOBID (every array task) is finished; prints
#                                           "job ID STATE exit=N:S" per task; exit = the highest exit code
#                                           (1 if a task ended FAILED/CANCELLED/TIMEOUT with 0); after S
#                                           seconds (default 300) cancels the job and exits 124
#   scripts/local_slurm.sh logs             tails of the daemon logs
#
# Knobs (environment):
#   SLURM_LAB_DIR        state directory           (default /tmp/tessera-slurm-$SLURM_LAB_PORT)
#   SLURM_LAB_PORT       slurmctld port; slurmd uses PORT+1 (default 6817) — distinct ports and
#                        SLURM_LAB_FIRST_JOB_ID let several test clusters run side by side
#   SLURM_LAB_FIRST_JOB_ID first job id            (default 1)
#   SLURM_LAB_CPUS       CPUs the node declares    (default max(4, hardware)); more than the hardware
#                        works via SlurmdParameters=config_overrides
#   SLURM_LAB_NODENAME   node name                 (default localhost: independent of the host name)
#   SLURM_LAB_CRED_EXPIRE seconds; also how long a requeued job waits before it may start again
#                        (Slurm's default is 120 s; default here 5)
# See docs/slurm.md and /work/shared/research/slurm.md (the measured recipe).
set -euo pipefail

PORT=${SLURM_LAB_PORT:-6817}
DIR=${SLURM_LAB_DIR:-/tmp/tessera-slurm-$PORT}
NODE=${SLURM_LAB_NODENAME:-localhost}
FIRST_JOB_ID=${SLURM_LAB_FIRST_JOB_ID:-1}
CRED_EXPIRE=${SLURM_LAB_CRED_EXPIRE:-5}
CONF=$DIR/etc/slurm.conf
export SLURM_CONF=$CONF

log() { echo "local_slurm: $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- process helpers: only PIDs from our own pid files, checked by /proc/PID/comm
alive() {  # alive PID NAME — running (not a zombie) and named NAME
  local pid=$1 name=$2 st
  [[ -n $pid && -r /proc/$pid/stat ]] || return 1
  [[ $(cat /proc/$pid/comm 2>/dev/null) == "$name" ]] || return 1
  st=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' /proc/$pid/stat 2>/dev/null) || return 1
  [[ $st != Z && $st != X ]]
}
pid_of() { [[ -r $DIR/run/$1.pid ]] && tr -dc '0-9' <"$DIR/run/$1.pid" || true; }
port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_daemon() {  # stop_daemon NAME
  local name=$1 pid i
  pid=$(pid_of "$name")
  if [[ -n $pid ]] && alive "$pid" "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do alive "$pid" "$name" || break; sleep 0.1; done
    if alive "$pid" "$name"; then log "$name ($pid) ignores TERM: KILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  fi
  rm -f "$DIR/run/$name.pid"
}

cmd_install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null; then return 0; fi
  [[ $(id -u) == 0 ]] || die "Slurm is not installed and this is not root: apt-get install slurmctld slurmd slurm-client"
  log "installing slurmctld slurmd slurm-client (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends slurmctld slurmd slurm-client >"${TMPDIR:-/tmp}/local_slurm_apt.log" 2>&1 ||
    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends slurmctld slurmd slurm-client \
        >"${TMPDIR:-/tmp}/local_slurm_apt.log" 2>&1; } ||
    { tail -20 "${TMPDIR:-/tmp}/local_slurm_apt.log" >&2; die "apt-get install failed"; }
}

is_up() {
  local c d
  c=$(pid_of slurmctld); d=$(pid_of slurmd)
  [[ -n $c && -n $d ]] && alive "$c" slurmctld && alive "$d" slurmd
}

write_config() {
  local hw mem cpus plugdir auth
  hw=$(slurmd -C 2>/dev/null | sed -nE 's/.*CPUs=([0-9]+).*/\1/p' | head -1)
  mem=$(slurmd -C 2>/dev/null | sed -nE 's/.*RealMemory=([0-9]+).*/\1/p' | head -1)
  hw=${hw:-$(nproc)}; mem=${mem:-1024}
  cpus=${SLURM_LAB_CPUS:-$((hw > 4 ? hw : 4))}
  plugdir=$(dirname "$(find /usr/lib -name auth_none.so -path '*slurm*' 2>/dev/null | head -1)")
  [[ -n $plugdir && -e $plugdir/auth_none.so ]] || die "auth_none.so not found (Debian's slurm-wlm-basic-plugins ships it)"
  mkdir -p "$DIR"/{etc,state,spool,log,run}
  cat >"$CONF" <<EOF
# Written by scripts/local_slurm.sh — single node on loopback, auth/none, root.
ClusterName=tessera-lab-$PORT
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
AuthInfo=cred_expire=$CRED_EXPIRE
PluginDir=$plugdir
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd-%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
FirstJobId=$FIRST_JOB_ID
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
EnforcePartLimits=ALL
SlurmdParameters=config_overrides
JobRequeue=1
ReturnToService=2
KillWait=5
MinJobAge=600
MailProg=/bin/true
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

cmd_start() {
  cmd_install
  if is_up && [[ $(sinfo -h -n "$NODE" -o %T 2>/dev/null) =~ ^(idle|mixed|allocated) ]]; then
    log "already running ($DIR)"; return 0
  fi
  stop_daemon slurmd; stop_daemon slurmctld  # survivors of a crashed run
  for p in "$PORT" $((PORT + 1)); do
    port_answers "$p" && die "port $p on 127.0.0.1 already answers (another Slurm?); set SLURM_LAB_PORT"
  done
  rm -rf "$DIR"
  write_config
  slurmctld -f "$CONF" -c || die "slurmctld failed to start: $(tail -5 "$DIR/log/slurmctld.log" 2>/dev/null)"
  slurmd -f "$CONF" -N "$NODE" || die "slurmd failed to start: $(tail -5 "$DIR/log/slurmd.log" 2>/dev/null)"
  local i state=""
  for ((i = 0; i < 300; i++)); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break
    local c d; c=$(pid_of slurmctld); d=$(pid_of slurmd)
    if (( i > 10 )) && { ! alive "$c" slurmctld || ! alive "$d" slurmd; }; then
      tail -15 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
      cmd_stop; die "a daemon died during start"
    fi
    sleep 0.1
  done
  [[ $state == idle ]] || { tail -15 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true; cmd_stop; die "node not idle after 30 s (state '$state')"; }
  log "up: slurmctld $(pid_of slurmctld), slurmd $(pid_of slurmd), node $NODE, port $PORT, dir $DIR"
}

cmd_stop() {
  [[ -d $DIR/run ]] || return 0
  stop_daemon slurmd
  stop_daemon slurmctld
  log "stopped ($DIR)"
}

cmd_status() {
  if is_up; then
    echo "slurmctld $(pid_of slurmctld), slurmd $(pid_of slurmd), SLURM_CONF=$CONF"
    sinfo || true
    squeue || true
  else
    echo "not running ($DIR)"; return 1
  fi
}

# terminal JobState values
is_final() { [[ $1 =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED|SPECIAL_EXIT)$ ]]; }

cmd_wait() {
  local id=${1:?usage: wait JOBID [TIMEOUT_S]} timeout=${2:-300} start now lines line st done_all
  start=$(date +%s)
  while :; do
    lines=$(scontrol -o show job "$id" 2>/dev/null || true)
    [[ -n $lines ]] || die "job $id unknown to slurmctld"
    done_all=1
    while IFS= read -r line; do
      st=$(sed -nE 's/.*JobState=([A-Z_]+).*/\1/p' <<<"$line")
      is_final "$st" || { done_all=0; break; }
    done <<<"$lines"
    (( done_all )) && break
    now=$(date +%s)
    if (( now - start >= timeout )); then
      log "job $id not finished after ${timeout}s: cancelling"
      scancel "$id" 2>/dev/null || true
      echo "$lines" | sed -nE 's/^JobId=([0-9]+) .*(ArrayJobId=[0-9]+ ArrayTaskId=[0-9-]+)?.*JobState=([A-Z_]+).*/job \1 \3/p' >&2
      return 124
    fi
    sleep 0.2
  done
  local rc=0 jid task code sig
  while IFS= read -r line; do
    jid=$(sed -nE 's/^JobId=([0-9]+).*/\1/p' <<<"$line")
    task=$(sed -nE 's/.* ArrayTaskId=([0-9]+) .*/_\1/p' <<<"$line")
    [[ -n $task ]] && jid="$(sed -nE 's/.* ArrayJobId=([0-9]+) .*/\1/p' <<<"$line")$task"
    st=$(sed -nE 's/.*JobState=([A-Z_]+).*/\1/p' <<<"$line")
    code=$(sed -nE 's/.* ExitCode=([0-9]+):([0-9]+).*/\1/p' <<<"$line")
    sig=$(sed -nE 's/.* ExitCode=([0-9]+):([0-9]+).*/\2/p' <<<"$line")
    echo "job $jid $st exit=$code:$sig"
    (( code > rc )) && rc=$code
    [[ $st != COMPLETED ]] && (( rc == 0 )) && rc=1
  done <<<"$lines"
  return $rc
}

cmd_logs() { tail -n "${1:-40}" "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" 2>/dev/null || true; }

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  wait) shift; cmd_wait "$@" ;;
  logs) shift; cmd_logs "$@" ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
