#!/bin/sh
# Installs the Debian 12 packages haechi builds, runs and tests with.
# A no-op (one dpkg-query call) when everything is already there, so that
# `make run` and `make test` can call it every time.
#
# Options add what one target needs beyond that: --fuzz (clang and its
# libFuzzer and sanitizer runtimes, for `make fuzz`), --valgrind.
set -eu

PACKAGES="build-essential pkg-config ca-certificates curl
libcurl4-openssl-dev libevent-dev libjansson-dev libhiredis-dev libssl-dev libunistring-dev
redis-server tzdata python3 python3-jsonschema python3-yaml clang-format"

for opt in "$@"; do
    case "$opt" in
        --fuzz) PACKAGES="$PACKAGES clang libclang-rt-14-dev" ;;
        --valgrind) PACKAGES="$PACKAGES valgrind" ;;
        *) echo "install-deps: unknown option $opt" >&2; exit 2 ;;
    esac
done

missing=""
for pkg in $PACKAGES; do
    state=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$state" in
        *"install ok installed"*) ;;
        *) missing="$missing $pkg" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-deps: need root or sudo to install:$missing" >&2
        exit 1
    }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine may be empty or stale.
$SUDO apt-get update -q >/dev/null
# policy-rc.d keeps apt from starting the system redis service: haechi only
# ever runs its own private redis-server.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
