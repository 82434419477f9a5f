#!/usr/bin/env bash
# Resolve Apache Kafka's broker jars from Maven Central into .kafka/libs (once; cached).
#
#   bash deploy/kafka/fetch-jars.sh          # what `make kafka-jars` runs
#
# Environment:
#   KAFKA_VERSION    override the version pinned in deploy/kafka/pom.xml (kafka.version)
#   KAFKA_STATE_DIR  where the broker's state lives (default: <repo>/.kafka)
#   KAFKA_LIBS_DIR   where the jars go (default: $KAFKA_STATE_DIR/libs)
#
# The cache marker $KAFKA_LIBS_DIR/.kafka-version holds the Kafka version and a hash of
# pom.xml; when both match (and the broker jar is there) Maven is not run at all.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pom="$here/pom.xml"
state_dir="${KAFKA_STATE_DIR:-$root/.kafka}"
libs_dir="${KAFKA_LIBS_DIR:-$state_dir/libs}"
marker="$libs_dir/.kafka-version"

die() {
    echo "fetch-jars: error: $*" >&2
    exit 1
}

pinned_version="$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$pom" | head -n 1)"
[ -n "$pinned_version" ] || die "could not read <kafka.version> from $pom"
version="${KAFKA_VERSION:-$pinned_version}"
pom_hash="$(sha256sum "$pom" | cut -c1-16)"
want="kafka=$version pom=$pom_hash"

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] \
    && [ -f "$libs_dir/kafka_2.13-$version.jar" ]; then
    echo "fetch-jars: Kafka $version jars already in $libs_dir (cached)"
    exit 0
fi

# Never swap the jars under a running broker (a JVM loads classes from its jars lazily):
# while one of our brokers is alive, keep the jars it runs on and say how to refresh them.
running=""
for pid_file in "$state_dir"/kafka-*.pid; do
    [ -f "$pid_file" ] || continue
    pid="$(tr -dc '0-9' <"$pid_file")"
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] \
        && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'; then
        port="${pid_file##*/kafka-}"
        running="$running ${port%.pid}"
    fi
done
if [ -n "$running" ] && ls "$libs_dir"/kafka_2.13-*.jar >/dev/null 2>&1; then
    echo "fetch-jars: warning: jars in $libs_dir are not those for '$want', but brokers on port(s)$running" \
        "run on them; keeping them. Stop those brokers (KAFKA_PORT=N bash deploy/kafka/stop.sh) and rerun." >&2
    exit 0
fi

# Tools: Java 17+ runs the broker, Maven resolves the jars.
if ! command -v java >/dev/null 2>&1; then
    die "java not found. Kafka $version needs Java 17+: run 'make system-deps' or 'apt-get install openjdk-17-jre-headless'"
fi
java_major="$(java -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1)"
if [ -n "$java_major" ] && [ "$java_major" -lt 17 ]; then
    die "java $java_major found on PATH; the Kafka $version broker needs Java 17+"
fi
if ! command -v mvn >/dev/null 2>&1; then
    die "mvn (Apache Maven) not found. Run 'make system-deps' or 'apt-get install maven'"
fi

echo "fetch-jars: resolving Apache Kafka $version jars from Maven Central into $libs_dir ..."
mkdir -p "$state_dir"
tmp_dir="$(mktemp -d "$state_dir/libs.tmp.XXXXXX")"
chmod 755 "$tmp_dir"
trap 'rm -rf "$tmp_dir"' EXIT
start_s=$SECONDS
if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
    -Dkafka.version="$version" -DoutputDirectory="$tmp_dir" >"$tmp_dir/.mvn.log" 2>&1; then
    tail -n 40 "$tmp_dir/.mvn.log" >&2
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$version (log above)"
fi
[ -f "$tmp_dir/kafka_2.13-$version.jar" ] || die "Maven finished but kafka_2.13-$version.jar is missing"
rm -f "$tmp_dir/.mvn.log"
echo "$want" >"$tmp_dir/.kafka-version"

# Swap in the new folder whole, so that jars of two versions never mix on the classpath.
rm -rf "$libs_dir"
mv "$tmp_dir" "$libs_dir"
trap - EXIT
count="$(find "$libs_dir" -maxdepth 1 -name '*.jar' | wc -l)"
echo "fetch-jars: $count jars for Kafka $version in $libs_dir ($((SECONDS - start_s)) s)"
