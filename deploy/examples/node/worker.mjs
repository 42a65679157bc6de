// A Safepoint worker in Node.js: plain JSON messages over RabbitMQ, no Safepoint library.
//
//   npm ci
//   node worker.mjs Ada        start an instance of "greeting" with name=Ada, complete its
//                              external task (topic "greet"), exit once it is done
//   node worker.mjs --serve    only the worker loop: complete "greet" tasks until Ctrl+C
//
// Deploy ../greeting.bpmn first (`safepoint deploy deploy/examples/greeting.bpmn`), and run
// the engine and a job-executor (`make run`). SAFEPOINT_AMQP_URL is the broker they use
// (default amqp://guest:guest@127.0.0.1:5672/). The messages are described in
// shared/contracts/asyncapi.yaml; README.md, "From any language", walks through them.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import amqp from "amqplib";

const AMQP_URL = process.env.SAFEPOINT_AMQP_URL || "amqp://guest:guest@127.0.0.1:5672/";
const PROCESS_KEY = "greeting";
const TOPIC = "greet";
const WORKER_ID = `node-${hostname()}-${process.pid}`;
const TIMEOUT_MS = 60_000; // how long the one-shot run waits for its task

// Names are the contract (shared/safepoint/contract/channels.py).
const COMMANDS = "safepoint.commands"; // exchange and routing key of every command
const EXTERNAL = "safepoint.external"; // topic exchange; the routing key is the topic
const TOPIC_QUEUE = `safepoint.external.${TOPIC}`;
// Declare the topic queue exactly as Safepoint does, or the broker refuses the declaration.
const TOPIC_QUEUE_ARGUMENTS = {
  "x-queue-type": "quorum",
  "x-dead-letter-exchange": "safepoint.dlx",
  "x-dead-letter-routing-key": "safepoint.external.dlq",
  "x-delivery-limit": 20,
  "x-dead-letter-strategy": "at-least-once",
  "x-overflow": "reject-publish",
};
const TASK_TYPE = "safepoint.external-task.created.v1";

/** The work itself: reads the instance's variables, returns the variables to set. */
function greet(task) {
  const name = task.variables?.name?.value ?? "World";
  return { greeting: { value: `Hello, ${name}!`, type: "String" } };
}

const serve = process.argv.includes("--serve");
const name = process.argv.slice(2).find((arg) => !arg.startsWith("--")) ?? "World";

const connection = await amqp.connect(AMQP_URL);
connection.on("error", (error) => console.error(`connection error: ${error.message}`));
const channel = await connection.createConfirmChannel(); // publisher confirms
channel.on("error", (error) => console.error(`channel error: ${error.message}`));
channel.on("return", (message) => {
  console.error(`unroutable: ${message.properties.type} to ${message.fields.exchange}`);
});
await channel.checkExchange(COMMANDS).catch(() => {
  throw new Error(`${COMMANDS} does not exist on ${redact(AMQP_URL)}: start the engine first`);
});

// Replies to our commands arrive on a queue of our own, matched by correlation id.
const pending = new Map();
const { queue: replyQueue } = await channel.assertQueue("", { exclusive: true, durable: false });
await channel.consume(
  replyQueue,
  (message) => {
    const answer = pending.get(message.properties.correlationId);
    pending.delete(message.properties.correlationId);
    answer?.(JSON.parse(message.content.toString("utf8")));
  },
  { noAck: true },
);

/**
 * Publish a command to safepoint.commands; resolves once the broker has confirmed it,
 * with `reply`, a promise of the engine's CommandReply ({ok, result, error}).
 */
async function send(type, body, headers = {}) {
  const messageId = randomUUID();
  const reply = new Promise((resolve) => pending.set(messageId, resolve));
  await new Promise((resolve, reject) => {
    channel.publish(
      COMMANDS,
      COMMANDS,
      Buffer.from(JSON.stringify(body)),
      {
        type, // the message and its schema version: the engine decodes by it
        contentType: "application/json",
        persistent: true,
        mandatory: true,
        messageId,
        correlationId: messageId,
        replyTo: replyQueue,
        timestamp: Math.floor(Date.now() / 1000),
        appId: WORKER_ID,
        headers, // traceparent/tracestate: the hop joins the instance's trace
      },
      (error) => (error ? reject(error) : resolve()),
    );
  });
  return { reply };
}

// The worker loop: take a task, do the work, publish the answer, and only then ack.
let started = null; // the instance this run started (not with --serve)
const done = new Set(); // instances whose task this worker completed
let finish;
const finished = new Promise((resolve) => (finish = resolve));

await channel.assertQueue(TOPIC_QUEUE, { durable: true, arguments: TOPIC_QUEUE_ARGUMENTS });
await channel.bindQueue(TOPIC_QUEUE, EXTERNAL, TOPIC);
await channel.prefetch(1); // one task at a time
await channel.consume(TOPIC_QUEUE, (message) => {
  handle(message).catch((error) => {
    console.error(`handling a task failed: ${error.stack ?? error}`);
    finish(1);
  });
});

async function handle(message) {
  if (message === null) {
    console.error(`the broker cancelled the consumer of ${TOPIC_QUEUE}`);
    finish(1);
    return;
  }
  let task;
  try {
    if (message.properties.type !== TASK_TYPE) throw new Error(`type ${message.properties.type}`);
    task = JSON.parse(message.content.toString("utf8"));
  } catch (error) {
    console.error(`not an external task (${error.message}): dead-lettering it`);
    channel.nack(message, false, false); // the queue dead-letters it to safepoint.external.dlq
    return;
  }
  const trace = {};
  for (const key of ["traceparent", "tracestate"]) {
    const value = message.properties.headers?.[key];
    if (value !== undefined) trace[key] = String(value);
  }

  let type;
  let answer;
  try {
    const variables = greet(task);
    type = "safepoint.external-task.complete.v1";
    answer = { externalTaskId: task.externalTaskId, workerId: WORKER_ID, variables };
    console.log(`task ${task.externalTaskId} of ${task.processInstanceId}: completing with`,
      JSON.stringify(variables));
  } catch (error) {
    // Camunda's convention: the worker counts the retries down (null: none reported yet).
    type = "safepoint.external-task.failure.v1";
    answer = {
      externalTaskId: task.externalTaskId,
      workerId: WORKER_ID,
      errorMessage: String(error.message ?? error),
      errorDetails: String(error.stack ?? ""),
      retries: Math.max((task.retries ?? 3) - 1, 0),
      retryTimeout: 10_000, // milliseconds before the task is handed out again
    };
    console.log(`task ${task.externalTaskId}: failing it: ${answer.errorMessage}`);
  }

  let reply;
  try {
    ({ reply } = await send(type, answer, trace)); // confirmed by the broker...
  } catch (error) {
    console.error(`could not publish the answer (${error.message}): the task comes back`);
    channel.nack(message, false, true);
    return;
  }
  channel.ack(message); // ...and only then acked: a crash in between never loses the task

  const result = await reply;
  if (!result.ok) {
    // e.g. NotFound: a redelivered task that was completed already.
    console.log(`task ${task.externalTaskId} refused: ${result.error.type}: ${result.error.message}`);
  } else {
    console.log(`task ${task.externalTaskId} done`);
    done.add(task.processInstanceId);
    if (task.processInstanceId === started) finish(0);
  }
}

if (serve) {
  console.log(`worker ${WORKER_ID} serving ${TOPIC_QUEUE}; Ctrl+C stops it`);
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => finish(0));
} else {
  const { reply } = await send("safepoint.process-instance.start.v1", {
    processDefinitionKey: PROCESS_KEY,
    businessKey: `node-${randomUUID()}`,
    variables: { name: { value: name, type: "String" } },
  });
  const result = await reply;
  if (!result.ok) {
    console.error(`starting ${PROCESS_KEY} failed: ${result.error.type}: ${result.error.message}`);
    finish(1);
  } else {
    started = result.result.processInstanceId;
    console.log(`started process instance ${started}:`, JSON.stringify(result));
    if (done.has(started)) finish(0); // its task was quicker than the reply
    setTimeout(() => {
      console.error(`no task of ${started} within ${TIMEOUT_MS / 1000} s: is a job-executor running?`);
      finish(1);
    }, TIMEOUT_MS).unref();
  }
}

channel.on("close", () => finish(1)); // the broker closed it: nothing more to do here
const code = await finished;
await connection.close(); // unacked tasks go back to the queue for another worker
process.exit(code);

function redact(url) {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
