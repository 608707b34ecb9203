#!/usr/bin/env bash
# A single-node SLURM on localhost, for tests/slurm/test_slurm.py (and for trying the SLURM profile by hand).
#
#   tests/slurm/cluster.sh up   [DIR]   bring it up (idempotent); prints `export SLURM_CONF=DIR/slurm.conf`
#   tests/slurm/cluster.sh down [DIR]   stop the daemons this script started (by their pid files)
#   tests/slurm/cluster.sh status [DIR] exit 0 if it is up
#   tests/slurm/cluster.sh env  [DIR]   print the export line only
#
# DIR (default $CHEXPERTNET_SLURM_DIR or /tmp/chexpertnet-slurm) holds slurm.conf, state, logs and pid files; nothing
# is written to /etc/slurm. Clients find the cluster through SLURM_CONF, or, without it, through slurmd's cached copy
# /run/slurm/conf (configless mode). Ports 6917/6918. Needs root (the daemons run as root, munged as munge); installs the Debian packages
# slurmctld, slurmd, slurm-client and munge when they are missing. Exit status 77: cannot run here (reason printed).
#
# The cluster mimics a small site without job accounting: no slurmdbd, so `sacct` fails and the Snakemake plugin must
# be told `slurm-status-command: squeue`; MinJobAge keeps finished jobs visible to squeue for 10 minutes.
set -euo pipefail

ACTION=${1:-up}
DIR=${2:-${CHEXPERTNET_SLURM_DIR:-/tmp/chexpertnet-slurm}}
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF

skip() {
    echo "SKIP: $*" >&2
    exit 77
}

pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_ready() { # the node is up and schedulable
    local state
    state=$(timeout 10 sinfo --noheader --format=%t 2>/dev/null | head -n1) || return 1
    [[ $state == idle* || $state == mix* || $state == alloc* ]]
}

stop_pid() { # stop the process whose pid is in $1, if alive; wait until it is gone
    local pidfile=$1 pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

down() {
    # jobs left over from a failed run first (on this cluster only: SLURM_CONF points at it), then slurmd, the
    # controller, and munged if we started it
    if pid_alive "$DIR/slurmctld.pid"; then
        timeout 10 scancel --user "$(id -un)" 2>/dev/null || true
        for _ in $(seq 50); do
            [[ -z $(timeout 5 squeue --noheader --states=PENDING,RUNNING,COMPLETING 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
    stop_pid "$DIR/slurmd.pid"
    stop_pid "$DIR/slurmctld.pid"
    # the link to slurmd's cached config, if it is ours
    [[ $(readlink /run/slurm/conf 2>/dev/null) == "$DIR"/* ]] && rm -f /run/slurm/conf
    if [[ -f $DIR/munged.started ]]; then
        stop_pid /run/munge/munged.pid
        rm -f "$DIR/munged.started"
    fi
    echo "SLURM test cluster in $DIR is down"
}

install_packages() {
    local missing=()
    for tool in slurmctld slurmd sbatch munged; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null || skip "SLURM is not installed (${missing[*]} missing) and there is no apt-get"
    echo "installing slurmctld slurmd slurm-client munge (missing: ${missing[*]})" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null ||
        { apt-get update -qq && apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; } ||
        skip "apt-get install slurmctld slurmd slurm-client munge failed"
}

start_munge() {
    if timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1; then
        return 0 # a munged is already running (ours or the system's): use it
    fi
    [[ -s /etc/munge/munge.key ]] || { mungekey --create 2>/dev/null || create-munge-key -f; }
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge/munge.key
    chmod 0755 /run/munge
    chmod 0700 /var/lib/munge /var/log/munge
    chmod 0400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged
    touch "$DIR/munged.started"
    for _ in $(seq 50); do
        timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "munged did not come up" >&2
    exit 1
}

write_conf() {
    local host node_line mem
    host=$(hostname -s)
    # what slurmd detects (CPUs, sockets, cores, threads), with 1 GiB of the available memory kept for the system
    node_line=$(slurmd -C | head -n1 | sed 's/ RealMemory=[0-9]*//')
    mem=$(awk '/MemAvailable/ {printf "%d", $2 / 1024 - 1024}' /proc/meminfo)
    ((mem > 1024)) || mem=1024
    mkdir -p "$DIR/state" "$DIR/spool"
    cat >"$CONF" <<EOF
# Written by tests/slurm/cluster.sh: a one-node SLURM on localhost without job accounting.
ClusterName=chexpertnet-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=6917
SlurmdPort=6918
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
# no cgroups needed
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without it a job with no --mem would take the whole node
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# squeue remembers finished jobs this long (the plugin wants >= 3 x slurm-init-seconds-before-status-checks)
MinJobAge=600
# slurmd caches this file and links it as /run/slurm/conf: the commands inside jobs find the cluster there (the
# plugin's job step removes SLURM_CONF, with every SLURM_* variable, from the environment of the srun it calls)
SlurmctldParameters=enable_configless
$node_line NodeAddr=127.0.0.1 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

up() {
    mkdir -p "$DIR"
    if pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid" && node_ready; then
        echo "export SLURM_CONF=$CONF"
        return 0
    fi
    [[ $(id -u) == 0 ]] || skip "bringing up SLURM needs root (the daemons and munged are started here)"
    install_packages
    down >/dev/null # leftovers of a half-started cluster
    write_conf
    start_munge
    slurmctld -c -f "$CONF"
    slurmd --conf-server 127.0.0.1:6917
    for _ in $(seq 150); do
        node_ready && { echo "export SLURM_CONF=$CONF"; return 0; }
        sleep 0.2
    done
    echo "the SLURM node did not become idle within 30 s; sinfo says:" >&2
    sinfo -N -l >&2 || true
    tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
    down >&2
    exit 1
}

case $ACTION in
up) up ;;
down) down ;;
status) pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid" && node_ready ;;
env) echo "export SLURM_CONF=$CONF" ;;
*)
    echo "usage: $0 up|down|status|env [DIR]" >&2
    exit 2
    ;;
esac
