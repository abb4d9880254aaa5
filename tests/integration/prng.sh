#!/bin/sh
# prng.sh SEED MIB: the same bytes the guest's /tools/bin/prng writes, computed on the host.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p build
[ build/prng -nt images/tools/prng.c ] || cc -O2 -o build/prng images/tools/prng.c
exec build/prng "$@"
