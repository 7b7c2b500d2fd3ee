#!/bin/bash
# Interleaved A/B of the local API paths (issue 18): CPU per request of each process, 1 KiB, 32 in flight.
#   bench/lib/api_ab.sh   with /work/wt/i18-before (the tree before) and /work/wt/i18 (after) checked out and installed
# Starts the echo peer R, the API peers A (before, after) and the handler peers H (before, after), then
# ROUNDS times: client before/after (the Python client of that tree on A of that tree, querying R), and
# handler before/after (the after client through the after A, querying H of each tree). Writes to /tmp/i18.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p /tmp/i18
set -u
FDS=()
start () { # tree kind... : its stdin is a fifo this script holds open; when the script ends, the servers stop
  local tree=$1; shift
  local f=/tmp/i18/stdin-$tree-$1; rm -f $f; mkfifo $f
  rm -f /tmp/i18/srv-$tree-$1.out
  (for x in "${FDS[@]}"; do eval "exec $x>&-"; done; cd /work/wt/$tree && exec node_modules/node/bin/node bench/lib/servers.ts "$@" < $f > /tmp/i18/srv-$tree-$1.out 2>/dev/null) &
  exec {fd}>$f
  FDS+=($fd)
}
start i18 subwire quic
start i18-before api
start i18 api
start i18-before api-handler quic
start i18 api-handler quic
for k in $(seq 1 60); do n=0; for x in /tmp/i18/srv-i18-subwire.out /tmp/i18/srv-i18-before-api.out /tmp/i18/srv-i18-api.out /tmp/i18/srv-i18-before-api-handler.out /tmp/i18/srv-i18-api-handler.out; do [ -s $x ] && n=$((n+1)); done; [ $n = 5 ] && break; sleep 1; done
j () { python3 -c "import json,sys;d=json.load(open('$1'));print(d[sys.argv[1]] if sys.argv[1]!='pids' else ','.join(map(str,d.get('pids',[d['pid']]))))" $2; }
R=$(j /tmp/i18/srv-i18-subwire.out addr); RP=$(j /tmp/i18/srv-i18-subwire.out pid)
AO=$(j /tmp/i18/srv-i18-before-api.out addr); AOP=$(j /tmp/i18/srv-i18-before-api.out pid)
AN=$(j /tmp/i18/srv-i18-api.out addr); ANP=$(j /tmp/i18/srv-i18-api.out pid)
HO=$(j /tmp/i18/srv-i18-before-api-handler.out addr); HOP=$(j /tmp/i18/srv-i18-before-api-handler.out pids)
HN=$(j /tmp/i18/srv-i18-api-handler.out addr); HNP=$(j /tmp/i18/srv-i18-api-handler.out pids)
OLDPY=/work/wt/i18-before/clients/python; NEWPY=/work/wt/i18/clients/python
for i in $(seq 1 ${ROUNDS:-5}); do
  echo "client-before $(/usr/bin/python3 $ROOT/bench/lib/api_cpu.py $AO $R $AOP,$RP echo $OLDPY)"
  echo "client-after  $(/usr/bin/python3 $ROOT/bench/lib/api_cpu.py $AN $R $ANP,$RP echo $NEWPY)"
  echo "handler-before $(/usr/bin/python3 $ROOT/bench/lib/api_cpu.py $AN $HO $ANP,$HOP bench $NEWPY)"
  echo "handler-after  $(/usr/bin/python3 $ROOT/bench/lib/api_cpu.py $AN $HN $ANP,$HNP bench $NEWPY)"
done
