#!/bin/bash
# faultline-healthcheck PORT [PATH]: exits 0 when GET http://127.0.0.1:PORT/PATH
# (default /health) answers 200, and 1 otherwise. A service's /health answers
# 503 while one of its stores does not answer, so this is a readiness check.
#
# The runtime images carry no curl or wget (fewer packages to patch); bash's
# /dev/tcp is enough for one HTTP/1.0 request. compose.yaml runs it as each
# Faultline service's healthcheck and bounds it with its own timeout.
set -eu

port=${1:?usage: faultline-healthcheck PORT [PATH]}
path=${2:-/health}

exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$port" >&3
# The status line: HTTP/1.x 200 OK
read -r -t 5 _ status _ <&3
[ "$status" = 200 ]
