#!/usr/bin/env bash
# Installs what the Kafka mock broker (scripts/kafka-mock/mock-cluster.c, built by test/support/kafka-mock.ts) needs:
# a C compiler and librdkafka's development files (headers, including rdkafka_mock.h, and the shared library).
# Idempotent: does nothing when a test program using the mock API already compiles and links.
set -euo pipefail

CC="${CC:-cc}"

probe() {
  command -v "$CC" >/dev/null 2>&1 || return 1
  local out
  out="$(mktemp)"
  if printf '%s\n' \
    '#include <librdkafka/rdkafka.h>' \
    '#include <librdkafka/rdkafka_mock.h>' \
    'int main(void) { return rd_kafka_mock_cluster_new == 0 || rd_kafka_mock_topic_create == 0; }' |
    "$CC" -x c - -o "$out" -lrdkafka >/dev/null 2>&1; then
    rm -f "$out"
    return 0
  fi
  rm -f "$out"
  return 1
}

if probe; then
  echo "install-kafka-mock: librdkafka and a C compiler are already installed"
  exit 0
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-kafka-mock: need root (or sudo) to run: $*" >&2
    exit 1
  fi
}

if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends librdkafka-dev gcc libc6-dev >/dev/null
elif command -v dnf >/dev/null 2>&1; then
  as_root dnf install -y -q librdkafka-devel gcc
else
  echo "install-kafka-mock: no apt-get or dnf; install librdkafka's development files and a C compiler by hand" >&2
  exit 1
fi

if ! probe; then
  echo "install-kafka-mock: installed packages, but a program using librdkafka's mock API still does not build with $CC" >&2
  exit 1
fi
echo "install-kafka-mock: librdkafka's mock cluster is ready"
