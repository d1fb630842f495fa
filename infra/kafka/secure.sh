#!/usr/bin/env bash
# A local Kafka broker secured as production would be: SASL_SSL with SCRAM-SHA-512 for clients,
# ACLs (StandardAuthorizer, nothing allowed unless granted), mutual TLS on the controller port.
# It is infra/kafka/kafka.sh's broker with a few properties more; see docs/operations.md "Security".
#
#   infra/kafka/secure.sh init                 certificates (openssl + keytool) and the admin's password, once
#   infra/kafka/secure.sh start                init if needed, start the broker (admin user made at format time)
#   infra/kafka/secure.sh stop|status|logs     as kafka.sh
#   infra/kafka/secure.sh set-user NAME        create user NAME or change its password: read from stdin,
#                                              letters and digits (SCRAM-SHA-512, kafka-configs)
#   infra/kafka/secure.sh delete-user NAME     remove its SCRAM credential (new connections are refused)
#   infra/kafka/secure.sh grant-producer NAME [PREFIX]          may write <PREFIX>.events, nothing else
#   infra/kafka/secure.sh grant-worker NAME [PREFIX] [APP_ID]   what `junheng worker --no-create-topics` needs
#   infra/kafka/secure.sh revoke-producer|revoke-worker NAME [...]  remove what grant-* added
#   infra/kafka/secure.sh acls                 list the ACLs
#   infra/kafka/secure.sh client-env NAME      the JUNHENG_KAFKA_* lines for NAME (the password line left blank)
#   infra/kafka/secure.sh admin-config         path of the admin's client properties, for kafka.sh run-class tools
#
# PREFIX defaults to JUNHENG_TOPIC_PREFIX's default `junheng`; APP_ID to `<PREFIX>-worker`.
# Environment: KAFKA_PORT, KAFKA_DATA_DIR, KAFKA_* as kafka.sh. Everything secret lives in
# $KAFKA_DATA_DIR/secure (mode 700): ca.pem is what clients trust (JUNHENG_KAFKA_SSL_CAFILE);
# ca.key signs the broker's certificate; admin.password and admin.properties (for Kafka's tools)
# hold the password of `admin`, the super user (topics are created as admin). No password
# is ever passed on a command line except the admin's, once, to StorageTool format (KRaft has no
# other way to create the first SCRAM user).
set -euo pipefail
umask 077

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
KAFKA_SH="$HERE/kafka.sh"
HOST=127.0.0.1
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
DATA_DIR="${KAFKA_DATA_DIR:-$HERE/data}"
SECURE="$DATA_DIR/secure"
MECHANISM=SCRAM-SHA-512
ADMIN=admin
BROKER_CN=broker          # the broker's certificate: its principal on the controller port (mTLS)
DAYS="${KAFKA_CERT_DAYS:-825}"

log() { printf '[secure.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

secret() { openssl rand -base64 48 | tr -dc 'A-Za-z0-9' | head -c 32; }

kafka() {  # kafka.sh on this broker; its readiness probe speaks TLS to the SASL_SSL listener
    KAFKA_PORT="$PORT" KAFKA_DATA_DIR="$DATA_DIR" KAFKA_PROBE_CAFILE="$SECURE/ca.pem" bash "$KAFKA_SH" "$@"
}

tool() {  # tool CLASS ARGS...: a Kafka admin tool as the admin, over SASL_SSL
    [[ -f "$SECURE/admin.properties" ]] || die "no $SECURE/admin.properties: run secure.sh start first"
    local cls="$1"; shift
    kafka run-class "$cls" --bootstrap-server "$HOST:$PORT" --command-config "$SECURE/admin.properties" "$@"
}

# --- init: CA, broker certificate, stores, admin password ------------------------------
do_init() {
    if [[ -f "$SECURE/server.properties" ]]; then
        log "already initialised: $SECURE"
        return 0
    fi
    command -v openssl >/dev/null || die "openssl not found"
    command -v keytool >/dev/null || die "keytool not found (apt-get install openjdk-17-jre-headless)"
    mkdir -p "$SECURE"
    chmod 700 "$SECURE"
    local store_pw admin_pw
    store_pw="$(secret)"
    admin_pw="$(secret)"
    log "making a test CA and the broker's certificate in $SECURE"
    # the CA: clients verify the broker with ca.pem
    openssl req -x509 -newkey rsa:2048 -nodes -days "$DAYS" -subj "/CN=junheng local Kafka CA" \
        -keyout "$SECURE/ca.key" -out "$SECURE/ca.pem" 2>/dev/null
    # the broker: one key for its listener (server) and for its own connections to the controller (client)
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$BROKER_CN" \
        -keyout "$SECURE/broker.key" -out "$SECURE/broker.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        "extendedKeyUsage=serverAuth,clientAuth" > "$SECURE/broker.ext"
    openssl x509 -req -in "$SECURE/broker.csr" -CA "$SECURE/ca.pem" -CAkey "$SECURE/ca.key" \
        -CAcreateserial -days "$DAYS" -extfile "$SECURE/broker.ext" -out "$SECURE/broker.pem" 2>/dev/null
    openssl pkcs12 -export -name broker -in "$SECURE/broker.pem" -inkey "$SECURE/broker.key" \
        -certfile "$SECURE/ca.pem" -out "$SECURE/broker.p12" -passout "pass:$store_pw"
    # the truststore (keytool): the controller port accepts only certificates of this CA
    JH_STORE_PW="$store_pw" keytool -importcert -noprompt -alias ca -file "$SECURE/ca.pem" -storetype PKCS12 \
        -keystore "$SECURE/truststore.p12" -storepass:env JH_STORE_PW >/dev/null 2>&1 || die "keytool failed"
    local jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$ADMIN\" password=\"$admin_pw\";"
    printf '%s\n' "$admin_pw" > "$SECURE/admin.password"
    cat > "$SECURE/admin.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=$MECHANISM
sasl.jaas.config=$jaas
ssl.truststore.type=PEM
ssl.truststore.location=$SECURE/ca.pem
EOF
    printf '%s\n' --add-scram "$MECHANISM=[name=$ADMIN,password=$admin_pw]" > "$SECURE/format.args"
    cat > "$SECURE/server.properties" <<EOF
# secure.sh: SASL_SSL (SCRAM-SHA-512) for clients and between brokers, mTLS to the controller, ACLs
listeners=SASL_SSL://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$PORT
listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=$MECHANISM
sasl.mechanism.inter.broker.protocol=$MECHANISM
listener.name.sasl_ssl.${MECHANISM,,}.sasl.jaas.config=$jaas
ssl.keystore.type=PKCS12
ssl.keystore.location=$SECURE/broker.p12
ssl.keystore.password=$store_pw
ssl.truststore.type=PKCS12
ssl.truststore.location=$SECURE/truststore.p12
ssl.truststore.password=$store_pw
listener.name.controller.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+).*\$/\$1/,DEFAULT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$ADMIN;User:$BROKER_CN
EOF
    rm -f "$SECURE/broker.csr" "$SECURE/broker.ext" "$SECURE/ca.srl"
    log "initialised $SECURE (clients trust $SECURE/ca.pem)"
}

do_start() {
    do_init
    KAFKA_EXTRA_PROPERTIES_FILE="$SECURE/server.properties" KAFKA_FORMAT_ARGS_FILE="$SECURE/format.args" kafka start
}

# --- users ----------------------------------------------------------------------------
check_name() {
    [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "user name '$1': letters, digits, . _ - only"
}

do_set_user() {
    local name="${1:-}"
    [[ -n "$name" ]] || die "usage: secure.sh set-user NAME  (the password on stdin)"
    check_name "$name"
    local password
    IFS= read -r password || true
    [[ "$password" =~ ^[A-Za-z0-9]{12,}$ ]] \
        || die "the password (stdin) must be 12 or more letters and digits (SCRAM's config syntax reserves , = [ ])"
    local file out rc=0
    file="$(mktemp "$SECURE/scram.XXXXXX")"
    printf '%s=password=%s\n' "$MECHANISM" "$password" > "$file"
    # the file (not --add-config) keeps the password off the command line; its errors quote it: hidden
    out="$(tool kafka.admin.ConfigCommand --alter --entity-type users --entity-name "$name" \
           --add-config-file "$file" 2>&1)" || rc=$?
    rm -f "$file"
    if (( rc != 0 )); then
        printf '%s\n' "${out//$password/***}" >&2
        die "could not set the credential of $name"
    fi
    log "user $name: $MECHANISM credential set"
}

do_delete_user() {
    local name="${1:-}"
    [[ -n "$name" ]] || die "usage: secure.sh delete-user NAME"
    check_name "$name"
    tool kafka.admin.ConfigCommand --alter --entity-type users --entity-name "$name" --delete-config "$MECHANISM" >/dev/null
    log "user $name: $MECHANISM credential deleted"
}

# --- ACLs -----------------------------------------------------------------------------
ACL_ACTION=--add
acl() { tool kafka.admin.AclCommand "$ACL_ACTION" --force "$@" >/dev/null; }

do_producer_acls() {
    local name="${1:-}" prefix="${2:-junheng}"
    [[ -n "$name" ]] || die "usage: secure.sh grant-producer|revoke-producer NAME [PREFIX]"
    check_name "$name"
    acl --allow-principal "User:$name" --operation Write --operation Describe --topic "$prefix.events"
    log "User:$name: ${ACL_ACTION#--} write $prefix.events"
}

do_worker_acls() {
    local name="${1:-}" prefix="${2:-junheng}"
    local app_id="${3:-$prefix-worker}"
    [[ -n "$name" ]] || die "usage: secure.sh grant-worker|revoke-worker NAME [PREFIX] [APP_ID]"
    check_name "$name"
    local p="User:$name"
    # read the events (Describe: the worker checks partition counts) and join its consumer group
    acl --allow-principal "$p" --operation Read --operation Describe --topic "$prefix.events" --group "$app_id"
    # write its outputs, and nothing else of the prefix: not the events
    acl --allow-principal "$p" --operation Write --operation Describe --topic "$prefix.dead-letters" \
        --topic "$prefix.section-results" --topic "$prefix.district-status" --topic "$prefix.alerts"
    # Faust's own topics, which it creates: <app_id>-<table>-changelog, <app_id>-__assignor-__leader
    acl --allow-principal "$p" --operation Create --operation Describe --operation Read --operation Write \
        --resource-pattern-type prefixed --topic "$app_id-"
    log "User:$name: ${ACL_ACTION#--} read $prefix.events, write $prefix.{dead-letters,section-results,\
district-status,alerts}, group $app_id, topics $app_id-*"
}

do_client_env() {
    local name="${1:-}"
    [[ -n "$name" ]] || die "usage: secure.sh client-env NAME"
    cat <<EOF
JUNHENG_KAFKA_BOOTSTRAP=$HOST:$PORT
JUNHENG_KAFKA_SECURITY_PROTOCOL=SASL_SSL
JUNHENG_KAFKA_SASL_MECHANISM=$MECHANISM
JUNHENG_KAFKA_SASL_USERNAME=$name
JUNHENG_KAFKA_SASL_PASSWORD=
JUNHENG_KAFKA_SSL_CAFILE=$SECURE/ca.pem
EOF
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    init)           do_init ;;
    start)          do_start ;;
    stop|status)    kafka "$cmd" ;;
    logs)           kafka logs "$@" ;;
    set-user)       do_set_user "$@" ;;
    delete-user)    do_delete_user "$@" ;;
    grant-producer) do_producer_acls "$@" ;;
    grant-worker)   do_worker_acls "$@" ;;
    revoke-producer) ACL_ACTION=--remove do_producer_acls "$@" ;;
    revoke-worker)  ACL_ACTION=--remove do_worker_acls "$@" ;;
    acls)           tool kafka.admin.AclCommand --list ;;
    client-env)     do_client_env "$@" ;;
    admin-config)   echo "$SECURE/admin.properties" ;;
    *)
        sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
        [[ -z "$cmd" || "$cmd" == "-h" || "$cmd" == "--help" || "$cmd" == "help" ]] || exit 2 ;;
esac
