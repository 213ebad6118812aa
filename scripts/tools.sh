#!/usr/bin/env bash
# Build go-ethereum's geth and devp2p tool, at the version requirements/go-ethereum.txt pins,
# into .tools/go-ethereum-<version>/ (git-ignored), with go-ethereum's eth test chain in
# ethtest/.  Does nothing when they are there already.
# Needs Go (>= the version go-ethereum's go.mod names) and the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r module version < <(grep -v '^#' requirements/go-ethereum.txt | grep .)
dest="$PWD/.tools/go-ethereum-$version"
if [ -x "$dest/geth" ] && [ -x "$dest/devp2p" ] && [ -f "$dest/ethtest/genesis.json" ]; then
    exit 0
fi
if ! command -v go > /dev/null; then
    echo "scripts/tools.sh: Go is needed to build geth $version for the tests (https://go.dev/dl/)" >&2
    exit 1
fi
mkdir -p "$dest"
start=$(date +%s)
# CGO off: pure-Go secp256k1, no C toolchain needed; -trimpath: no local paths in the binaries
GOBIN="$dest.tmp" CGO_ENABLED=0 GOFLAGS="-trimpath" \
    go install "$module/cmd/geth@$version" "$module/cmd/devp2p@$version"
# go-ethereum's eth test chain (genesis.json, chain.rlp, ...), from the module just built
src="$(go env GOMODCACHE)/$module@$version/cmd/devp2p/internal/ethtest/testdata"
rm -rf "$dest/ethtest"
cp -r "$src" "$dest/ethtest"
chmod -R u+w "$dest/ethtest"
mv "$dest.tmp/geth" "$dest.tmp/devp2p" "$dest/"
rmdir "$dest.tmp"
echo "scripts/tools.sh: built geth and devp2p $version in $(( $(date +%s) - start )) s" >&2
