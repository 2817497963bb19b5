#!/bin/sh
# Builds bench/go/bin/etcd-load with Debian's Go and etcd client sources (golang-go,
# golang-etcd-server-dev), in GOPATH mode: no module proxy, nothing downloaded.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/bin"
cd "$here/src/etcd-load"
GOPATH="$here:/usr/share/gocode" GO111MODULE=off GOFLAGS= go build -o "$here/bin/etcd-load" .
echo "$here/bin/etcd-load"
