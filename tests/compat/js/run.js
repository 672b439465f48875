// Runs one snippet against pwsk with OpenWhisk's official JavaScript client (npm `openwhisk`).
//
// stdin is a JSON object {options, args, body}:
//   options  the client's constructor options (apihost, api_key, ...)
//   args     values the snippet reads as `A`
//   body     the body of an async function of (ow, A, H): ow = openwhisk(options), A = args,
//            H = {openwhisk, options, require, poll, sleep}
// stdout is one JSON line: {"value": <what the snippet returned>} when its promise resolves,
// {"rejected": {name, message, statusCode, error}} when it rejects (`error` is the response
// body the client kept: pwsk's {error, code} for a failed request).
'use strict'

const openwhisk = require('openwhisk')

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// Retries `fn` until it resolves to something truthy; a 404 rejection counts as "not yet"
// (activations are written after the invoke returns).
async function poll (fn, { timeout = 30000, interval = 100 } = {}) {
  const deadline = Date.now() + timeout
  for (;;) {
    try {
      const value = await fn()
      if (value) return value
    } catch (err) {
      if (err.statusCode !== 404) throw err
    }
    if (Date.now() > deadline) throw new Error(`poll: nothing after ${timeout} ms: ${fn}`)
    await sleep(interval)
  }
}

function readStdin () {
  return new Promise((resolve, reject) => {
    const chunks = []
    process.stdin.on('data', chunk => chunks.push(chunk))
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    process.stdin.on('error', reject)
  })
}

function report (outcome) {
  // Exit once the line is flushed: keep-alive sockets must not hold the process open.
  process.stdout.write(JSON.stringify(outcome) + '\n', () => process.exit(0))
}

async function main () {
  const { options, args, body } = JSON.parse(await readStdin())
  const snippet = new AsyncFunction('ow', 'A', 'H', body)
  const helpers = { openwhisk, options, require, poll, sleep }
  let value
  try {
    value = await snippet(openwhisk(options), args, helpers)
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'OpenWhiskError') throw err
    return report({
      rejected: {
        name: err.name,
        message: err.message,
        statusCode: err.statusCode === undefined ? null : err.statusCode,
        error: err.error === undefined ? null : err.error
      }
    })
  }
  report({ value: value === undefined ? null : value })
}

main().catch(err => {
  // A bug in the snippet (or a client-side validation error): not an outcome to assert on.
  process.stderr.write((err && err.stack) || String(err))
  process.exit(3)
})
