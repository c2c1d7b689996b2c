#!/usr/bin/env bash
# A 3-node Weaviate cluster on 127.0.0.1 for Vizor's cluster backend:
# `make cluster` / `make cluster-stop`, and the cluster tests (which start
# their own, on other ports, under a temporary folder).
#
#   scripts/cluster.sh start            build (cached) and start 3 nodes
#   scripts/cluster.sh stop             stop them (SIGTERM, then SIGKILL)
#   scripts/cluster.sh status           which nodes answer
#   scripts/cluster.sh start-node I     start node I alone (after a kill)
#   scripts/cluster.sh url              the -gallery URL for vizor serve
#
# Environment: VIZOR_CLUSTER_DIR (data, logs, pids; default ./data/cluster),
# VIZOR_CLUSTER_PORT (node i serves HTTP on PORT+i and gRPC on PORT+10+i;
# gossip, data, Raft and Raft RPC of node i are PORT+100+10i .. +3; default
# 8380), WEAVIATE_BIN (a weaviate-server to use instead of building one).
# Vector indexing stays synchronous (ASYNC_INDEXING off): with it on, an
# acknowledged template is not found by a search until indexed, which the
# contract (searchable when Enrol returns) forbids.
#
# Everything a node advertises and gossips stays on 127.0.0.1, but Weaviate
# binds its gRPC and internal data ports on every interface (no setting pins
# them in v1.35.2): on a shared host, firewall them (see README, "More than
# one machine").
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${VIZOR_CLUSTER_DIR:-data/cluster}
PORT=${VIZOR_CLUSTER_PORT:-8380}
N=3

http_port() { echo $((PORT + $1)); }
grpc_port() { echo $((PORT + 10 + $1)); }
gossip_port() { echo $((PORT + 100 + 10 * $1)); }

bin() {
  if [[ -n ${WEAVIATE_BIN:-} ]]; then echo "$WEAVIATE_BIN"; else bash third_party/weaviate.sh; fi
}

ready() { curl -fsS -m 2 "http://127.0.0.1:$(http_port "$1")/v1/.well-known/ready" >/dev/null 2>&1; }

start_node() {
  local i=$1 b=$2 g raft join=""
  g=$(gossip_port "$i")
  mkdir -p "$DIR/node$i"
  if [[ -f $DIR/node$i.pid ]] && kill -0 "$(cat "$DIR/node$i.pid")" 2>/dev/null; then
    echo "cluster: node$i already running (pid $(cat "$DIR/node$i.pid"))"
    return
  fi
  if ready "$i"; then
    echo "cluster: port $(http_port "$i") answers but $DIR/node$i.pid names no running node: another cluster holds these ports (VIZOR_CLUSTER_PORT moves them)" >&2
    exit 1
  fi
  for j in $(seq 0 $((N - 1))); do
    raft+="${raft:+,}node$j:$(($(gossip_port "$j") + 2))"
  done
  [[ $i -gt 0 ]] && join="127.0.0.1:$(gossip_port 0)"
  # DISABLE_TELEMETRY: no phone-home from a test machine. Async replication
  # is on per collection (Vizor sets it), so a node that was down catches
  # up by itself.
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
    PERSISTENCE_DATA_PATH="$DIR/node$i" \
    CLUSTER_HOSTNAME="node$i" CLUSTER_IN_LOCALHOST=true \
    CLUSTER_BIND_ADDR=127.0.0.1 CLUSTER_ADVERTISE_ADDR=127.0.0.1 \
    CLUSTER_GOSSIP_BIND_PORT="$g" CLUSTER_DATA_BIND_PORT=$((g + 1)) \
    RAFT_PORT=$((g + 2)) RAFT_INTERNAL_RPC_PORT=$((g + 3)) \
    RAFT_JOIN="$raft" RAFT_BOOTSTRAP_EXPECT=$N CLUSTER_JOIN="$join" \
    GRPC_PORT="$(grpc_port "$i")" GO_PROFILING_DISABLE=true \
    AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true DEFAULT_VECTORIZER_MODULE=none \
    DISABLE_TELEMETRY=true PROMETHEUS_MONITORING_ENABLED=false LOG_LEVEL=warning \
    QUERY_MAXIMUM_RESULTS=10000 GOMAXPROCS="${WEAVIATE_GOMAXPROCS:-2}" \
    nohup "$b" --host 127.0.0.1 --port "$(http_port "$i")" --scheme http \
    >>"$DIR/node$i.log" 2>&1 &
  echo $! >"$DIR/node$i.pid"
  echo "cluster: node$i pid $! http 127.0.0.1:$(http_port "$i") grpc $(grpc_port "$i")"
}

wait_ready() {
  local i=$1
  for _ in $(seq 1 300); do
    ready "$i" && return 0
    sleep 0.2
  done
  echo "cluster: node$i not ready after 60 s; see $DIR/node$i.log" >&2
  return 1
}

case ${1:-} in
start)
  b=$(bin)
  mkdir -p "$DIR"
  start_node 0 "$b"
  # Nodes 1-2 join node 0's gossip: it must listen first.
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$(gossip_port 0)") 2>/dev/null && break
    sleep 0.1
  done
  for i in $(seq 1 $((N - 1))); do start_node "$i" "$b"; done
  for i in $(seq 0 $((N - 1))); do wait_ready "$i"; done
  echo "cluster: ready; vizor serve -gallery '$("$0" url)'"
  ;;
start-node)
  start_node "$2" "$(bin)"
  wait_ready "$2"
  ;;
stop)
  for i in $(seq 0 $((N - 1))); do
    f=$DIR/node$i.pid
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      echo "cluster: node$i stopped"
    fi
    rm -f "$f"
  done
  ;;
status)
  for i in $(seq 0 $((N - 1))); do
    if ready "$i"; then echo "node$i ready (http $(http_port "$i"))"; else echo "node$i down"; fi
  done
  ;;
url)
  echo "weaviate://127.0.0.1:$(http_port 0)?grpc=$(grpc_port 0)"
  ;;
*)
  echo "usage: $0 start|stop|status|start-node I|url" >&2
  exit 2
  ;;
esac
