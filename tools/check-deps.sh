#!/bin/sh
# make check-deps: the dependency rules of ARCHITECTURE.md, checked over
# #include lines. core, config, http, ajp and the lbmethods include no libevent or
# OpenSSL; shm knows no policy (no balancer/, proxy/); the master never
# includes libevent.
cd "$(dirname "$0")/.."
fail=0
check() {  # check DESCRIPTION PATTERN FILES...
  desc=$1; pat=$2; shift 2
  hits=$(grep -nE "^#include [<\"]($pat)" "$@" 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "check-deps: $desc:"; echo "$hits"; fail=1
  fi
}
check "core/config/http/ajp must not include libevent or OpenSSL" 'event2/|openssl/' \
  src/core/* src/config/* src/http/* src/ajp/*
check "lbmethods must not include libevent, OpenSSL or http" 'event2/|openssl/|http/|proxy/' \
  src/balancer/lbmethod*
check "shm knows layout, not policy" 'event2/|openssl/|balancer/|proxy/|http/' src/shm/*
check "the master never includes libevent" 'event2/|proxy/|worker/event_util' src/master/*
[ $fail = 0 ] && echo "check-deps: ok"
exit $fail
