#!/usr/bin/env node
/*
 * Action proxy for the nodejs:20 kind (Node built-ins only).
 *
 *   GET  /      readiness probe, always 200 {"ok": true}
 *   POST /init  load a CommonJS source string, or a base64 zip with package.json or index.js
 *   POST /run   call main(args), await it if it returns a promise, answer with the JSON result
 *
 * /init and /run are handled one at a time. After each, the sentinel line is written to stdout
 * and stderr once everything the action logged has been written, and only then is the response
 * sent, so that the invoker can cut the logs of one activation from the next.
 *
 * Results follow apache/openwhisk-runtime-nodejs: a returned (or resolved) object or array is
 * the result, `undefined` becomes {}, a rejected promise becomes 200 {"error": <serialized
 * reason>} (an application error), and an exception thrown synchronously by main is a 502
 * "An error has occurred: ..." (a developer error).
 */
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const vm = require('vm');
const zlib = require('zlib');
const { createRequire } = require('module');
const { pathToFileURL } = require('url');

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';
const MAX_BODY_BYTES = 50 * 1024 * 1024;

const NOT_INITIALIZED = 'System not initialized.';
const REINIT = 'Cannot initialize the action more than once.';
const NO_CODE = 'Missing main/no code to execute.';
const NOT_A_DICT = 'The action did not return a dictionary or array.';
const INIT_FAILED = 'Initialization has failed due to: ';

/** A request that ends with an error status and an {"error": message} body. */
class ProxyError extends Error {
    constructor(status, message) {
        super(message);
        this.status = status;
    }

    response() {
        return [this.status, JSON.stringify({ error: this.message })];
    }
}

function initFailure(reason) {
    return new ProxyError(502, INIT_FAILED + reason);
}

function parse(body) {
    const text = body.toString('utf8');
    if (!text.trim()) {
        return {};
    }
    let message;
    try {
        message = JSON.parse(text);
    } catch (error) {
        throw new ProxyError(400, `Malformed JSON request body: ${error.message}`);
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
        throw new ProxyError(400, 'The request body must be a JSON object.');
    }
    return message;
}

function envString(value) {
    if (typeof value === 'string') {
        return value;
    }
    return value === null || value === undefined ? '' : JSON.stringify(value);
}

// --- zip archives: the central directory lists the entries, each has a local header --------

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/** The entries of a zip archive: [{name, directory, mode, data}]. Throws on anything odd. */
function readZip(buffer) {
    let eocd = -1;
    const lowest = Math.max(0, buffer.length - 22 - 0xffff); // the comment is at most 64 KiB
    for (let at = buffer.length - 22; at >= lowest; at--) {
        if (buffer.readUInt32LE(at) === EOCD_SIGNATURE) {
            eocd = at;
            break;
        }
    }
    if (eocd < 0) {
        throw new Error('not a zip file');
    }
    const count = buffer.readUInt16LE(eocd + 10);
    let offset = buffer.readUInt32LE(eocd + 16);
    if (count === 0xffff || offset === 0xffffffff) {
        throw new Error('ZIP64 archives are not supported');
    }
    const entries = [];
    for (let n = 0; n < count; n++) {
        if (buffer.readUInt32LE(offset) !== CENTRAL_SIGNATURE) {
            throw new Error('corrupt central directory');
        }
        const madeBy = buffer.readUInt16LE(offset + 4);
        const flags = buffer.readUInt16LE(offset + 8);
        const method = buffer.readUInt16LE(offset + 10);
        const crc = buffer.readUInt32LE(offset + 16);
        const compressedSize = buffer.readUInt32LE(offset + 20);
        const size = buffer.readUInt32LE(offset + 24);
        const nameLength = buffer.readUInt16LE(offset + 28);
        const extraLength = buffer.readUInt16LE(offset + 30);
        const commentLength = buffer.readUInt16LE(offset + 32);
        const external = buffer.readUInt32LE(offset + 38);
        const local = buffer.readUInt32LE(offset + 42);
        const name = buffer.toString('utf8', offset + 46, offset + 46 + nameLength);
        offset += 46 + nameLength + extraLength + commentLength;

        // Permission bits are only meaningful when the archive was made on Unix.
        const mode = madeBy >> 8 === 3 ? (external >>> 16) & 0o777 : 0;
        if (name.endsWith('/')) {
            entries.push({ name, directory: true, mode });
            continue;
        }
        if (flags & 1) {
            throw new Error(`${name}: encrypted entries are not supported`);
        }
        if (buffer.readUInt32LE(local) !== LOCAL_SIGNATURE) {
            throw new Error(`${name}: corrupt local header`);
        }
        const start = local + 30 + buffer.readUInt16LE(local + 26) + buffer.readUInt16LE(local + 28);
        const raw = buffer.subarray(start, start + compressedSize);
        if (raw.length !== compressedSize) {
            throw new Error(`${name}: truncated entry`);
        }
        let data;
        if (method === 0) {
            data = raw;
        } else if (method === 8) {
            data = zlib.inflateRawSync(raw);
        } else {
            throw new Error(`${name}: unsupported compression method ${method}`);
        }
        if (data.length !== size || (typeof zlib.crc32 === 'function' && zlib.crc32(data) !== crc)) {
            throw new Error(`${name}: checksum mismatch`);
        }
        entries.push({ name, directory: false, mode, data });
    }
    return entries;
}

function extractZip(buffer, dir) {
    for (const entry of readZip(buffer)) {
        const target = path.resolve(dir, entry.name);
        if (target !== dir && !target.startsWith(dir + path.sep)) {
            throw new Error(`${entry.name}: the path leaves the action directory`);
        }
        if (entry.directory) {
            fs.mkdirSync(target, { recursive: true });
            continue;
        }
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, entry.data);
        if (entry.mode) {
            fs.chmodSync(target, entry.mode | 0o600);
        }
    }
}

// --- the action -------------------------------------------------------------------------

const MAIN_NAME = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

/** `main` looked up in a module's exports; `module.exports = function` also counts. */
function exported(exports, main) {
    const named = main.split('.').reduce((obj, key) => (obj == null ? undefined : obj[key]), exports);
    if (typeof named === 'function') {
        return named;
    }
    if (typeof exports === 'function') {
        return exports;
    }
    if (exports != null && exports.default != null && exports.default !== exports) {
        return exported(exports.default, main); // an ES module's default export
    }
    return named;
}

/** A stack trace without the proxy's own frames and Node's internals. */
function userStack(stack) {
    return String(stack)
        .split('\n')
        .filter((line) => !/^\s+at /.test(line) || !(line.includes(__filename) || /\(?node:/.test(line)))
        .join('\n');
}

/** What a rejected promise becomes in {"error": ...}, like the npm package serialize-error. */
function serializeError(value, seen = new Set()) {
    if (typeof value === 'function') {
        return `[Function: ${value.name || 'anonymous'}]`;
    }
    if (value === null || typeof value !== 'object') {
        return value;
    }
    if (seen.has(value)) {
        return '[Circular]';
    }
    seen.add(value);
    const out = Array.isArray(value) ? [] : {};
    for (const [key, item] of Object.entries(value)) {
        if (typeof item !== 'function') {
            out[key] = serializeError(item, seen);
        }
    }
    if (value instanceof Error) {
        for (const key of ['name', 'message', 'stack', 'code', 'cause']) {
            if (value[key] !== undefined && !(key in out)) {
                out[key] = key === 'stack' ? userStack(value.stack) : serializeError(value[key], seen);
            }
        }
    }
    seen.delete(value);
    return out;
}

class Runtime {
    constructor(actionDir) {
        this.actionDir = actionDir;
        this.main = undefined;
    }

    async init(body) {
        if (this.main !== undefined) {
            throw new ProxyError(403, REINIT);
        }
        const value = parse(body).value ?? {};
        if (typeof value !== 'object' || Array.isArray(value)) {
            throw new ProxyError(400, "The init 'value' must be a JSON object.");
        }
        if (typeof value.code !== 'string' || value.code === '') {
            throw new ProxyError(403, NO_CODE);
        }
        const main = value.main || 'main';
        if (typeof main !== 'string') {
            throw new ProxyError(400, "The init 'main' must be a string.");
        }
        const env = value.env ?? {};
        if (typeof env !== 'object' || Array.isArray(env)) {
            throw new ProxyError(400, "The init 'env' must be a JSON object.");
        }
        for (const [key, val] of Object.entries(env)) {
            process.env[key] = envString(val);
        }

        try {
            const handler = value.binary ? await this.loadZip(value.code, main) : this.loadSource(value.code, main);
            if (typeof handler !== 'function') {
                throw initFailure(`Action entrypoint '${main}' is not a function.`);
            }
            this.main = handler;
        } catch (error) {
            this.forgetModules(); // a retried /init must not get the failed one's modules back
            if (error instanceof ProxyError) {
                throw error;
            }
            const reason = error && error.stack ? userStack(error.stack) : String(error);
            console.error('Error during initialization:', reason);
            throw initFailure(reason);
        }
        return [200, JSON.stringify({ ok: true })];
    }

    /**
     * Upstream evaluates the source and then `main` in the same scope, so a top-level
     * `function main` is found as well as `exports.main`. The source here becomes the body of
     * a CommonJS module function, with one statement appended that hands `main` back.
     */
    loadSource(code, main) {
        if (!MAIN_NAME.test(main)) {
            throw initFailure('Name of main function is not valid.');
        }
        const filename = path.join(this.actionDir, 'index.js');
        const params = ['exports', 'require', 'module', '__filename', '__dirname'];
        vm.compileFunction(code, params, { filename }); // syntax errors point into the user's code
        const capture = '__pwsk_capture_main__';
        const lookup = `try { return ${main}; } catch (e) { if (e instanceof ReferenceError) return; throw e; }`;
        const source = `${code}\n;${capture}((() => { ${lookup} })());\n`;
        const wrapper = vm.compileFunction(source, [...params, capture], { filename });
        const module = { id: '.', filename, path: this.actionDir, exports: {}, loaded: false, children: [] };
        let found;
        const localRequire = createRequire(filename);
        wrapper.call(module.exports, module.exports, localRequire, module, filename, this.actionDir, (fn) => {
            found = fn;
        });
        module.loaded = true;
        return typeof found === 'function' ? found : exported(module.exports, main);
    }

    forgetModules() {
        for (const file of Object.keys(require.cache)) {
            if (file.startsWith(this.actionDir + path.sep)) {
                delete require.cache[file];
            }
        }
    }

    async loadZip(code, main) {
        try {
            extractZip(Buffer.from(code, 'base64'), this.actionDir);
        } catch (error) {
            throw initFailure(`There was an error uncompressing the action archive: ${error.message}`);
        }
        // "file.fn" names a module of the zip and a function in it (upstream's splitMainHandler).
        const dot = main.indexOf('.');
        const [index, name] = dot > 0 ? [main.slice(0, dot), main.slice(dot + 1)] : [undefined, main];
        const hasEntry = ['package.json', 'index.js'].some((f) => fs.existsSync(path.join(this.actionDir, f)));
        if (index === undefined && !hasEntry) {
            throw initFailure('Zipped actions must contain either package.json or index.js at the root.');
        }
        const target = index === undefined ? this.actionDir : path.join(this.actionDir, index);
        let exports;
        try {
            exports = require(target);
        } catch (error) {
            if (error.code !== 'ERR_REQUIRE_ESM' && error.code !== 'ERR_REQUIRE_ASYNC_MODULE') {
                throw error;
            }
            exports = await import(pathToFileURL(require.resolve(target)).href);
        }
        return exported(exports, name);
    }

    async run(body) {
        if (this.main === undefined) {
            throw new ProxyError(403, NOT_INITIALIZED);
        }
        const message = parse(body);
        const args = message.value ?? {};
        if (typeof args !== 'object') {
            const type = typeof args;
            throw new ProxyError(403, `Internal system error: the argument must be a dictionary but has type '${type}'.`);
        }
        for (const [key, val] of Object.entries(message)) {
            if (key !== 'value') {
                process.env[`__OW_${key.toUpperCase()}`] = envString(val);
            }
        }

        const main = this.main; // called detached, so its stack frame reads "at main"
        let result;
        try {
            result = main(args);
        } catch (error) {
            console.error(error && error.stack ? userStack(error.stack) : error);
            throw new ProxyError(502, `An error has occurred: ${error}`);
        }
        try {
            result = await result;
        } catch (reason) {
            result = { error: reason ? serializeError(reason) : {} };
        }
        if (result === undefined) {
            result = {}; // a bare `return;`
        }
        if (result === null || typeof result !== 'object') {
            const type = result === null ? 'null' : typeof result;
            console.error(`Result must be of type object but has type "${type}":`, result);
            throw new ProxyError(502, NOT_A_DICT);
        }
        try {
            return [200, JSON.stringify(result)];
        } catch (error) {
            throw new ProxyError(502, `The action returned a result that is not JSON: ${error.message}`);
        }
    }
}

// --- serial execution and log sentinels --------------------------------------------------

/** Remember whether the last thing written to `stream` ended a line. */
const lineStarts = new Map();
function trackLineStarts(stream) {
    const write = stream.write;
    lineStarts.set(stream, true);
    stream.write = function (chunk, ...rest) {
        if (chunk && chunk.length) {
            const last = typeof chunk === 'string' ? chunk.charCodeAt(chunk.length - 1) : chunk[chunk.length - 1];
            lineStarts.set(stream, last === 0x0a); // a newline
        }
        return write.call(this, chunk, ...rest);
    };
}

/** Write `line` on a line of its own (the invoker matches whole lines); resolve once written. */
function writeLine(stream, line) {
    const text = lineStarts.get(stream) === false ? `\n${line}\n` : `${line}\n`;
    return new Promise((resolve) => stream.write(text, () => resolve()));
}

let tail = Promise.resolve();

/** Runs `work` after every earlier job, then writes the sentinels; resolves [status, json]. */
function serialise(work) {
    const job = tail.then(async () => {
        let response;
        try {
            response = await work();
        } catch (error) {
            if (error instanceof ProxyError) {
                response = error.response();
            } else {
                console.error(error); // a bug in the proxy must not stop it
                response = new ProxyError(500, `Internal error: ${error}`).response();
            }
        }
        // Same streams as console.log/console.error, so the sentinels land after the action's
        // output; the callbacks fire once the lines are handed to the pipe.
        await Promise.all([writeLine(process.stdout, SENTINEL), writeLine(process.stderr, SENTINEL)]);
        return response;
    });
    tail = job;
    return job;
}

// --- HTTP -------------------------------------------------------------------------------

function send(res, status, payload, close = false) {
    const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) };
    if (close) {
        headers.Connection = 'close';
    }
    res.writeHead(status, headers);
    res.end(payload);
}

function tooLarge() {
    return new ProxyError(413, `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
}

function createServer(runtime) {
    const routes = { '/init': (body) => runtime.init(body), '/run': (body) => runtime.run(body) };
    const server = http.createServer((req, res) => {
        const url = req.url.split('?')[0];
        if (req.method === 'GET' && url === '/') {
            req.resume();
            send(res, 200, JSON.stringify({ ok: true }));
            return;
        }
        const route = req.method === 'POST' ? routes[url] : undefined;
        if (route === undefined) {
            req.resume();
            send(res, ...new ProxyError(404, 'Not found.').response());
            return;
        }
        // A body announced as too large is refused at once, and the connection closed.
        const declared = Number(req.headers['content-length'] ?? 0);
        if (declared > MAX_BODY_BYTES) {
            serialise(() => {
                throw tooLarge();
            }).then(([status, payload]) => send(res, status, payload, true));
            return;
        }
        const chunks = [];
        let received = 0;
        req.on('data', (chunk) => {
            received += chunk.length;
            if (received <= MAX_BODY_BYTES) {
                chunks.push(chunk);
            }
        });
        req.on('error', () => {}); // the client went away; nothing to answer
        req.on('end', () => {
            const body = Buffer.concat(chunks);
            serialise(() => {
                if (received > MAX_BODY_BYTES) {
                    throw tooLarge();
                }
                return route(body);
            }).then(([status, payload]) => send(res, status, payload));
        });
    });
    // The invoker keeps connections open between activations: no idle or request timeouts.
    server.keepAliveTimeout = 0;
    server.requestTimeout = 0;
    server.timeout = 0;
    server.on('connection', (socket) => socket.setNoDelay(true));
    return server;
}

function portFromArgs(argv) {
    const at = argv.indexOf('--port');
    const value = at >= 0 ? argv[at + 1] : process.env.PORT || '8080';
    const port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
        console.error(`invalid port: ${value}`);
        process.exit(2);
    }
    return port;
}

function main() {
    const port = portFromArgs(process.argv.slice(2));
    const host = process.env.PWSK_PROXY_HOST || '0.0.0.0';
    const actionDir = path.resolve(process.env.PWSK_ACTION_DIR || '/action');
    fs.mkdirSync(actionDir, { recursive: true });
    process.chdir(actionDir);
    trackLineStarts(process.stdout);
    trackLineStarts(process.stderr);
    // A forgotten promise must not take a warm container down; log it as the action's error.
    process.on('unhandledRejection', (reason) => console.error('Unhandled promise rejection:', reason));

    const server = createServer(new Runtime(actionDir));
    server.on('error', (error) => {
        console.error(`cannot listen on ${host}:${port}: ${error.message}`);
        process.exit(1);
    });
    server.listen(port, host);
}

main();
