#!/usr/bin/env bash
# Build go-ethereum's geth and devp2p tool, at the version requirements/go-ethereum.txt pins,
# into .tools/go-ethereum-<version>/ (git-ignored), with go-ethereum's eth test chain in
# ethtest/; and bench/gop2p (our go-ethereum p2p.Server with test/1, for the benchmarks and
# tests/interop/test_gop2p.py) into .tools/gop2p-<version>/gop2p.  Does nothing when they
# are there already (gop2p is rebuilt when bench/gop2p/ has changed since).
# Needs Go (>= the version go-ethereum's go.mod names) and the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r module version < <(grep -v '^#' requirements/go-ethereum.txt | grep .)
dest="$PWD/.tools/go-ethereum-$version"
gop2p_dest="$PWD/.tools/gop2p-$version"

need_go() {
    if ! command -v go > /dev/null; then
        echo "scripts/tools.sh: Go is needed to build $1 for the tests (https://go.dev/dl/)" >&2
        exit 1
    fi
}

# bench/gop2p: a module of our own that requires go-ethereum at the pinned version (its
# go.mod and go.sum are committed; the binary is not).  CGO off as for geth below: the same
# pure-Go secp256k1 as the geth the tests run.
build_gop2p() {
    local bin="$gop2p_dest/gop2p"
    if [ -x "$bin" ] && [ -z "$(find bench/gop2p -newer "$bin" -type f)" ]; then
        return 0
    fi
    if ! grep -q "^require $module $version\$" bench/gop2p/go.mod; then
        echo "scripts/tools.sh: bench/gop2p/go.mod does not require $module $version" \
             "(requirements/go-ethereum.txt): update it with" \
             "\`(cd bench/gop2p && go get $module@$version && go mod tidy)\`" >&2
        exit 1
    fi
    need_go "bench/gop2p"
    local start
    start=$(date +%s)
    mkdir -p "$gop2p_dest"
    (cd bench/gop2p && CGO_ENABLED=0 GOFLAGS="-trimpath -mod=readonly" go build -o "$bin.tmp" .)
    mv "$bin.tmp" "$bin"
    echo "scripts/tools.sh: built bench/gop2p against go-ethereum $version in $(( $(date +%s) - start )) s" >&2
}

if [ -x "$dest/geth" ] && [ -x "$dest/devp2p" ] && [ -f "$dest/ethtest/genesis.json" ]; then
    build_gop2p
    exit 0
fi
need_go "geth $version"
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
build_gop2p
