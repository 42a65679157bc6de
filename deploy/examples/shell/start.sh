#!/usr/bin/env bash
# Start a Safepoint process instance from the shell: a StartProcessInstance command sent
# with curl and jq through RabbitMQ's management HTTP API, and the engine's reply read back.
#
#   deploy/examples/shell/start.sh [process key] [name]     (default: greeting World)
#
# prints the engine's reply ({"ok":true,"result":{"processInstanceId":...}}) and exits 0
# when it is ok, 1 otherwise. Needs curl, jq and the management plugin
# (`rabbitmq-plugins enable rabbitmq_management`; the compose file's RabbitMQ has it).
# amqp-tools' amqp-publish cannot set the AMQP `type` property, which Safepoint requires.
#
# The management API is for operators and scripts, not for workers: it cannot ack a
# message after publishing the answer. Workers use an AMQP client (see ../node/).
#
# Environment: RABBITMQ_API (default http://127.0.0.1:15672/api), RABBITMQ_USER and
# RABBITMQ_PASSWORD (guest/guest), RABBITMQ_VHOST (/).
set -euo pipefail

api=${RABBITMQ_API:-http://127.0.0.1:15672/api}
auth="${RABBITMQ_USER:-guest}:${RABBITMQ_PASSWORD:-guest}"
vhost=$(jq -rn --arg v "${RABBITMQ_VHOST:-/}" '$v | @uri') # "/" is %2F in a URL
key=${1:-greeting}
name=${2:-World}

call() { # call METHOD PATH [JSON BODY]: the API's answer on stdout, failing on HTTP errors
    curl --silent --show-error --fail-with-body --user "$auth" -X "$1" \
        -H 'content-type: application/json' "$api$2" ${3:+--data "$3"}
}

id=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
reply_queue="start.sh.reply.$id"

# A queue for the reply: RabbitMQ deletes it 60 s after its last use (x-expires).
call PUT "/queues/$vhost/$reply_queue" '{"durable":true,"arguments":{"x-expires":60000}}' >/dev/null
trap 'call DELETE "/queues/$vhost/$reply_queue" >/dev/null 2>&1 || true' EXIT

# The command: a JSON body (Camunda's REST names and typed variables) and AMQP properties.
command=$(jq -cn --arg key "$key" --arg name "$name" '{
    processDefinitionKey: $key,
    variables: {name: {value: $name, type: "String"}}
}')
publish=$(jq -cn --arg payload "$command" --arg id "$id" --arg reply "$reply_queue" '{
    routing_key: "safepoint.commands",
    payload: $payload,
    payload_encoding: "string",
    properties: {
        type: "safepoint.process-instance.start.v1",
        content_type: "application/json",
        delivery_mode: 2,
        message_id: $id,
        correlation_id: $id,
        reply_to: $reply,
        app_id: "start.sh"
    }
}')
routed=$(call POST "/exchanges/$vhost/safepoint.commands/publish" "$publish" | jq -r .routed)
if [[ $routed != true ]]; then
    echo "start.sh: safepoint.commands did not route the command: is the engine running?" >&2
    exit 1
fi

# The engine answers on the reply queue with the command's correlation id.
for _ in $(seq 100); do
    reply=$(call POST "/queues/$vhost/$reply_queue/get" \
        '{"count":1,"ackmode":"ack_requeue_false","encoding":"auto"}' |
        jq -c --arg id "$id" '.[] | select(.properties.correlation_id == $id) | .payload | fromjson')
    if [[ -n $reply ]]; then
        echo "$reply"
        [[ $(jq -r .ok <<<"$reply") == true ]]
        exit
    fi
    sleep 0.2
done
echo "start.sh: no reply within 20 s: is the engine consuming safepoint.commands?" >&2
exit 1
