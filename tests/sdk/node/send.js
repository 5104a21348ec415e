#!/usr/bin/env node
// Send events to a Faultline server with the official @sentry/node SDK.
//
// The integration tests run this script (with @sentry/node pinned in
// package.json, installed by `cargo xtask test`) to check that a real SDK's
// payloads are accepted, stored and grouped as Sentry would group them.
//
// Usage: SENTRY_DSN=http://KEY@127.0.0.1:PORT/PROJECT node send.js SCENARIO [options]
//
// Scenarios: exception, exception-other-path, chained, message, fingerprint.
// Options:   --release R, --environment E, --user ID (email ID@example.com),
//            --tag K=V (repeatable), --count N (default 1),
//            --text T (message text), --variant a|b (fingerprint).
//
// Each captured event id (32 hex digits) is printed on its own line on
// stdout; nothing else is written there. The exit status is non-zero if any
// event was not accepted by the server (2xx) before the flush timeout.
//
// Every scenario throws or captures from one fixed code path, so running it
// again produces events of the same group, and different scenarios produce
// different groups (`fingerprint` excepted: both its variants share a group).
'use strict';

const Sentry = require('@sentry/node');

const SCENARIOS = ['exception', 'exception-other-path', 'chained', 'message', 'fingerprint', 'feedback'];

class OrderError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'OrderError';
  }
}

// exception: TypeError via processOrder -> loadOrder
function loadOrder(orderId) {
  throw new TypeError(`cannot read quantity of order ${orderId}`);
}

function processOrder(orderId) {
  return loadOrder(orderId);
}

// exception-other-path: same type, different frames
function lookupRefund(refundId) {
  throw new TypeError(`cannot read quantity of order ${refundId}`);
}

function refundOrder(refundId) {
  return lookupRefund(refundId);
}

// chained: OrderError whose `cause` is the TypeError from loadOrder
function submitOrder(orderId) {
  try {
    loadOrder(orderId);
  } catch (e) {
    throw new OrderError(`failed to process order ${orderId}`, { cause: e });
  }
}

// fingerprint variants
function validateCoupon(code) {
  throw new RangeError(`coupon code ${JSON.stringify(code)} is malformed`);
}

function applyDiscount(amount) {
  throw new TypeError(`discount must be a number, got ${JSON.stringify(amount)}`);
}

// Call fn, which must throw, and capture what it throws.
function capture(fn, ...args) {
  try {
    fn(...args);
  } catch (e) {
    return Sentry.captureException(e);
  }
  throw new Error(`${fn.name} did not throw`);
}

function sendOnce(opts) {
  switch (opts.scenario) {
    case 'exception':
      return capture(processOrder, 1234);
    case 'exception-other-path':
      return capture(refundOrder, 99);
    case 'chained':
      return capture(submitOrder, 1234);
    case 'message':
      return Sentry.captureMessage(opts.text, 'warning');
    case 'fingerprint':
      return Sentry.withScope((scope) => {
        scope.setFingerprint(['custom-fingerprint-group']);
        return opts.variant === 'a' ? capture(validateCoupon, 'SPRING-??') : capture(applyDiscount, 'ten');
      });
    case 'feedback': {
      // An error, then what the user wrote about it (the feedback widget
      // and the user feedback API send the same `feedback` item).
      const eventId = capture(processOrder, 1234);
      Sentry.captureFeedback({
        message: opts.text,
        name: 'Jane Doe',
        email: 'jane@example.com',
        url: 'https://shop.example.com/checkout',
        associatedEventId: eventId,
      });
      return eventId;
    }
    default:
      throw new Error(`unhandled scenario ${opts.scenario}`);
  }
}

function usage(msg) {
  process.stderr.write(`send.js: ${msg}\nusage: SENTRY_DSN=... node send.js {${SCENARIOS.join(',')}} ` +
    '[--release R] [--environment E] [--user ID] [--tag K=V]... [--count N] [--text T] [--variant a|b]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { tags: [], count: 1, text: 'Cart total exceeds soft limit', variant: 'a' };
  const valued = { '--release': 'release', '--environment': 'environment', '--user': 'user', '--tag': 'tag',
    '--count': 'count', '--text': 'text', '--variant': 'variant' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      if (opts.scenario !== undefined) usage(`unexpected argument ${arg}`);
      opts.scenario = arg;
      continue;
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const key = valued[flag];
    if (!key) usage(`unknown option ${flag}`);
    const value = inline !== undefined ? inline : argv[++i];
    if (value === undefined) usage(`${flag} needs a value`);
    if (key === 'tag') {
      if (!value.includes('=')) usage(`--tag expects K=V, got ${value}`);
      opts.tags.push([value.slice(0, value.indexOf('=')), value.slice(value.indexOf('=') + 1)]);
    } else if (key === 'count') {
      opts.count = Number(value);
      if (!Number.isInteger(opts.count) || opts.count < 1) usage('--count must be a positive integer');
    } else {
      opts[key] = value;
    }
  }
  if (!SCENARIOS.includes(opts.scenario)) usage(`unknown or missing scenario ${opts.scenario}`);
  if (!['a', 'b'].includes(opts.variant)) usage(`unknown --variant ${opts.variant} (expected a or b)`);
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!process.env.SENTRY_DSN) usage('SENTRY_DSN is not set');

  Sentry.init({
    dsn: process.env.SENTRY_DSN,
    release: opts.release,
    environment: opts.environment,
    serverName: 'example-host',
    spotlight: false,
    sendClientReports: false,
    // Dedupe drops an event identical to the previous one, which --count sends on purpose.
    integrations: (defaults) => defaults.filter((i) => i.name !== 'Dedupe'),
  });
  if (opts.user) Sentry.setUser({ id: opts.user, email: `${opts.user}@example.com` });
  for (const [key, value] of opts.tags) Sentry.setTag(key, value);

  // Note which events the server accepted, to fail loudly if one was not.
  const accepted = new Set();
  Sentry.getClient().on('afterSendEvent', (event, response) => {
    const status = response && response.statusCode;
    if (status >= 200 && status < 300) accepted.add(event.event_id);
  });

  const ids = [];
  for (let i = 0; i < opts.count; i++) {
    const id = sendOnce(opts);
    ids.push(id);
    process.stdout.write(`${id}\n`);
  }

  const flushed = await Sentry.close(5000);
  const missing = ids.filter((id) => !accepted.has(id));
  if (!flushed || missing.length > 0) {
    process.stderr.write(`send.js: flush ${flushed ? 'done' : 'timed out'}; not accepted: ${missing.join(' ') || 'none'}\n`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  process.stderr.write(`send.js: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 1;
});
