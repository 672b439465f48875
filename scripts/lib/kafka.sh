# Sourced by scripts/services: a one-node Kafka (KRaft) on loopback.
# Apache Kafka's own jars come from Maven Central: a throwaway pom under the cache depends on
# kafka_2.13 (+ an slf4j binding) and `mvn dependency:copy-dependencies` puts the jars in
# $PWSK_CACHE/kafka/<version>/libs (~46 MB, once). The broker runs in combined mode (broker +
# controller in one JVM), so no ZooKeeper.
#
# The contract of an engine lib (scripts/services runs the lifecycle around it):
#   pwsk_<engine>_install   fetch or build what is missing (idempotent, cached)
#   pwsk_<engine>_launch    start it in the background with pwsk_spawn (pid file + log)
#   pwsk_<engine>_ready     exit 0 when it answers its own protocol
#   pwsk_<engine>_url       the URL pwsk settings take, e.g. kafka://127.0.0.1:9092
#
# Ports: PWSK_KAFKA_PORT (clients, default 9092), PWSK_KAFKA_CONTROLLER_PORT (default +1).
# Data lives in $PWSK_RUN/kafka-data and survives a stop (committed offsets too), so
# `down` + `up` is a broker restart, not a new cluster; delete the directory to start clean.
PWSK_KAFKA_VERSION="3.9.1"
PWSK_SLF4J_VERSION="1.7.36"  # the slf4j line kafka 3.9 is built against
PWSK_KAFKA_HOME="$PWSK_CACHE/kafka/$PWSK_KAFKA_VERSION"
PWSK_KAFKA_PORT="${PWSK_KAFKA_PORT:-9092}"
PWSK_KAFKA_CONTROLLER_PORT="${PWSK_KAFKA_CONTROLLER_PORT:-$((PWSK_KAFKA_PORT + 1))}"

pwsk_kafka_url() { echo "kafka://127.0.0.1:$PWSK_KAFKA_PORT"; }

pwsk_kafka_install() {
  [ -f "$PWSK_KAFKA_HOME/.complete" ] && return 0
  command -v java >/dev/null && command -v mvn >/dev/null ||
    { say "kafka: Java (>= 17) and Maven are required to fetch Kafka"; return 1; }
  say "kafka: fetching Kafka $PWSK_KAFKA_VERSION jars from Maven Central (once, ~20 s)"
  mkdir -p "$PWSK_KAFKA_HOME"
  cat >"$PWSK_KAFKA_HOME/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pwsk</groupId>
  <artifactId>kafka-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$PWSK_KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>$PWSK_SLF4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
  rm -rf "$PWSK_KAFKA_HOME/libs"
  # Quiet Maven still prints colour resets: show its output only when it fails.
  local out
  if ! out="$(mvn -q -B -f "$PWSK_KAFKA_HOME/pom.xml" dependency:copy-dependencies \
                -DincludeScope=runtime -DoutputDirectory="$PWSK_KAFKA_HOME/libs" 2>&1)"; then
    printf '%s\n' "$out" >&2
    return 1
  fi
  cat >"$PWSK_KAFKA_HOME/log4j.properties" <<'LOG4J'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
LOG4J
  touch "$PWSK_KAFKA_HOME/.complete"
}

pwsk_kafka_launch() {
  local data="$PWSK_RUN/kafka-data" conf="$PWSK_RUN/kafka.properties" cluster
  mkdir -p "$PWSK_RUN"
  cat >"$conf" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$PWSK_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PWSK_KAFKA_PORT,CONTROLLER://127.0.0.1:$PWSK_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PWSK_KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# pwsk creates its topics itself, with OpenWhisk's retention; a typo must not make one.
auto.create.topics.enable=false
# One node: a group that forms need not wait for more members (the default waits 3 s).
group.initial.rebalance.delay.ms=0
CONF
  if [ ! -f "$data/meta.properties" ]; then
    cluster="$(java -cp "$PWSK_KAFKA_HOME/libs/*" \
      -Dlog4j.configuration="file:$PWSK_KAFKA_HOME/log4j.properties" \
      kafka.tools.StorageTool random-uuid)"
    java -cp "$PWSK_KAFKA_HOME/libs/*" \
      -Dlog4j.configuration="file:$PWSK_KAFKA_HOME/log4j.properties" \
      kafka.tools.StorageTool format -t "$cluster" -c "$conf" >/dev/null
  fi
  # shellcheck disable=SC2086  # PWSK_KAFKA_HEAP_OPTS is a list of JVM flags
  pwsk_spawn kafka java ${PWSK_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} -XX:+UseG1GC \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$PWSK_KAFKA_HOME/log4j.properties" \
    -cp "$PWSK_KAFKA_HOME/libs/*" kafka.Kafka "$conf"
}

# Readiness is a real Metadata request (v1, Python's stdlib): the broker must list itself
# and a known controller, which a KRaft broker does only once it has caught up with the
# metadata log, i.e. when it can create topics.
pwsk_kafka_ready() {
  python3 - "$PWSK_KAFKA_PORT" <<'PY' 2>/dev/null
import socket, struct, sys

client = b"pwsk-ready"
# api_key 3 (Metadata), version 1, correlation id 1, client id; topics: null = all
body = struct.pack(">hhih", 3, 1, 1, len(client)) + client + struct.pack(">i", -1)
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as sock:
    sock.settimeout(1)
    sock.sendall(struct.pack(">i", len(body)) + body)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit(1)
        data += chunk
pos = 8  # size, correlation id
brokers, = struct.unpack_from(">i", data, pos); pos += 4
for _ in range(brokers):
    pos += 4  # node id
    length, = struct.unpack_from(">h", data, pos); pos += 2 + length + 4  # host, port
    length, = struct.unpack_from(">h", data, pos); pos += 2 + max(length, 0)  # rack
controller, = struct.unpack_from(">i", data, pos)
sys.exit(0 if brokers > 0 and controller >= 0 else 1)
PY
}
