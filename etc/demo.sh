#!/bin/sh
# make demo: drover in front of two demo backends on loopback, in the
# foreground. Ctrl-C stops all three.
set -eu
cd "$(dirname "$0")/.."
B=${DROVER_BUILD:-build}
D=$B/demo
mkdir -p "$D/logs"
for p in 8080 8081 8082; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
    echo "demo: port $p on 127.0.0.1 is in use; stop what uses it and retry" >&2
    exit 1
  fi
done
"$B/drover-backend" --listen 127.0.0.1:8081 --name node1 >/dev/null &
b1=$!
"$B/drover-backend" --listen 127.0.0.1:8082 --name node2 >/dev/null &
b2=$!
trap 'kill $b1 $b2 2>/dev/null; [ -n "${dp:-}" ] && kill $dp 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
"$B/drover" -t -c etc/drover.conf -p "$D"
cat <<MSG

drover is running on http://127.0.0.1:8080 in front of node1 (:8081) and node2 (:8082).
Logs: $D/logs/  Try, in another terminal:

  curl -i http://127.0.0.1:8080/                       # node1, node2, node1, ... (byrequests)
  curl -i -b BALANCEID=balancer.node2 http://127.0.0.1:8080/   # always node2 (sticky)
  curl -i 'http://127.0.0.1:8080/redirect?to=http://127.0.0.1:8081/login'  # Location rewritten
  curl -i 'http://127.0.0.1:8080/cookie?v=s%3D1%3B%20Domain%3D127.0.0.1'   # Domain=localhost
  curl -s http://127.0.0.1:8080/echo                   # what the member received

Press Ctrl-C to stop.
MSG
"$B/drover" -F -c etc/drover.conf -p "$D" &
dp=$!
wait $dp
