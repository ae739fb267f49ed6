#!/usr/bin/env node
// An Intentcast vendor in plain Node.js (no npm packages, no Python): it builds and signs
// VendorProfile and Offer messages by the rules of docs/protocol.md, and checks itself
// against schemas/vectors/vectors.json. Kafka I/O is left to Kafka's console tools or kcat:
// every message is printed as "<key>\t<json>", ready for a producer with parse.key=true.
// A profile goes to the vendor's own topic intentcast.vendor.<vendor_id>.profile (which only
// that vendor's principal may write), offers to intentcast.offers.submitted.
//
//   node interop/vendor.mjs vectors schemas/vectors/vectors.json
//   node interop/vendor.mjs negative schemas/vectors/negative.json
//   node interop/vendor.mjs profile --seed-hex <64 hex> --vendor-id node-bikes \
//        --markets bikes --roster schemas/vectors/vectors.json
//   node interop/vendor.mjs offer --seed-hex <64 hex> --vendor-id node-bikes --price 120 < intent.json
//   (add --tamper to alter the price after signing: the processors must refuse it; add
//   --skip-expired to print nothing for an intent that has expired, as a live vendor must; an
//   offer is never valid after its intent's expiry)
import crypto from "node:crypto";
import fs from "node:fs";

// ---- strict JSON (docs/protocol.md, "Canonical encoding in other languages") ---------------
// JSON.parse loses what the contract needs: it turns 9007199254740993 into ...992, keeps the
// last of two equal keys, and accepts lone surrogates. This small parser keeps every number's
// text (a JsonNumber), refuses duplicate keys and lone surrogates, and is otherwise RFC 8259.
export class JsonNumber {
  constructor(text) { this.text = text; }
  isInteger() { return /^-?[0-9]+$/.test(this.text); }
}

export class MalformedJson extends Error {}

export function parseJson(input) {
  const text = typeof input === "string" ? input
    : new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(input); // no U+FFFD
  let i = 0;
  const fail = (what) => { throw new MalformedJson(`${what} at ${i}`); };
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++; const out = {}; const seen = new Set(); ws();
      if (text[i] === "}") { i++; return out; }
      for (;;) {
        ws(); if (text[i] !== '"') fail("expected a key");
        const key = string();
        if (seen.has(key)) fail(`duplicate key ${JSON.stringify(key)}`);
        seen.add(key); ws();
        if (text[i++] !== ":") fail("expected ':'");
        Object.defineProperty(out, key, { value: value(), enumerable: true, writable: true,
          configurable: true }); // also for a key named __proto__
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i++] === "}") return out;
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++; const out = []; ws();
      if (text[i] === "]") { i++; return out; }
      for (;;) {
        out.push(value()); ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i++] === "]") return out;
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (m && m[0]) { i += m[0].length; return new JsonNumber(m[0]); }
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) { i += word.length; return v; }
    }
    return fail("expected a value");
  };
  const string = () => {
    i++; let out = "";
    for (;;) {
      const c = text[i++];
      if (c === undefined) fail("unterminated string");
      if (c === '"') break;
      if (c < " ") fail("raw control character in a string");
      if (c !== "\\") { out += c; continue; }
      const e = text[i++];
      const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
      if (e in simple) { out += simple[e]; continue; }
      if (e !== "u" || !/^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) fail("bad escape");
      out += String.fromCharCode(parseInt(text.slice(i, i + 4), 16)); i += 4;
    }
    // a surrogate must be half of a pair, whether it came raw or as \uD8xx escapes
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(out)) {
      fail("lone surrogate");
    }
    return out;
  };
  const result = value(); ws();
  if (i !== text.length) fail("text after the value");
  return result;
}

// ---- canonical JSON (docs/protocol.md, "Canonical encoding") ----------------------------
const MONEY_FIELDS = new Set(["price", "max_price"]);
const TIME_FIELDS = new Set(["valid_until", "needed_by", "retention_end", "at", "consent_timestamp"]); // and *_at
const FLOAT_MAPS = new Set(["gauges", "latencies_ms"]); // the only floats: metrics values

export function canonicalMoney(text) {
  const m = /^([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]{1,4}))?$/.exec(String(text));
  if (!m) throw new Error(`not a decimal: ${text}`);
  let digits = (m[1] || "") + (m[2] || "");
  let point = (m[1] || "").length + Number(m[3] || 0); // position of the decimal point
  digits = digits.replace(/^0+/, () => "");
  const lead = (m[1] || "").length + (m[2] || "").length - digits.length; // zeros stripped
  point -= lead;
  if (digits === "") return "0";
  let whole, frac;
  if (point <= 0) { whole = "0"; frac = "0".repeat(-point) + digits; }
  else if (point >= digits.length) { whole = digits + "0".repeat(point - digits.length); frac = ""; }
  else { whole = digits.slice(0, point); frac = digits.slice(point); }
  frac = frac.replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : whole;
}

export function canonicalTime(text) {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/
    .exec(text);
  if (!m) throw new Error(`not an RFC 3339 timestamp: ${text}`);
  const ms = (m[5] || "").padEnd(3, "0").slice(0, 3); // truncate, never round
  const offset = m[6].toUpperCase() === "Z" ? "Z" : m[6];
  const base = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}.${ms}${offset}`);
  return new Date(base).toISOString(); // always UTC, three fraction digits, Z
}

// integers exactly (BigInt), floats as Number::toString writes them (the canonical float form)
function canonicalNumber(n, inFloatMap) {
  if (!inFloatMap && n.isInteger()) return BigInt(n.text).toString();
  return String(Number(n.text));
}

// fill the defaults a producer may omit (vectors.json "defaults", docs/protocol.md)
const clone = (v) => (Array.isArray(v) ? v.map(clone)
  : v !== null && typeof v === "object" && !(v instanceof JsonNumber)
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) : v);

export function withDefaults(message, defaults) {
  const out = clone(message);
  for (const [path, value] of Object.entries(defaults || {})) fill(out, path.split("."), value);
  return out;
}

function fill(node, parts, value) {
  if (node === null || typeof node !== "object") return;
  const [head, ...rest] = parts;
  const list = head.endsWith("[]");
  const key = list ? head.slice(0, -2) : head;
  if (rest.length === 0) {
    if (!(key in node)) node[key] = clone(value); // left out; an explicit null is refused
    return;
  }
  if (!(key in node)) return;
  for (const child of list ? node[key] || [] : [node[key]]) fill(child, rest, value);
}

function write(value, key, inFloatMap) {
  if (value instanceof JsonNumber) return canonicalNumber(value, inFloatMap);
  if (typeof value === "number") return canonicalNumber(new JsonNumber(String(value)), inFloatMap);
  if (Array.isArray(value)) return `[${value.map((v) => write(v, undefined, inFloatMap)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const floats = inFloatMap || FLOAT_MAPS.has(key);
    const parts = [];
    for (const k of Object.keys(value).sort()) { // keys are ASCII: UTF-16 order = code points
      const v = value[k];
      if (v === null || v === undefined) continue; // nulls are omitted
      parts.push(`${JSON.stringify(k)}:${write(normaliseLeaf(v, k), k, floats)}`);
    }
    return `{${parts.join(",")}}`;
  }
  return JSON.stringify(value); // strings: raw UTF-8, only " \ and controls escaped
}

function normaliseLeaf(value, key) {
  if (typeof value !== "string") return value;
  if (MONEY_FIELDS.has(key)) return canonicalMoney(value);
  if (TIME_FIELDS.has(key) || key.endsWith("_at")) return canonicalTime(value);
  return value;
}

// sorted keys, nulls dropped, no whitespace, raw UTF-8, money/time/numbers normalised
export function canonicalBytes(message) {
  return Buffer.from(write(message, undefined, false), "utf8");
}

export function signingBytes(message) {
  const { signature, ...rest } = message;
  return canonicalBytes(rest);
}

// ---- Ed25519 from a 32-byte seed, via the fixed PKCS#8 DER prefix of RFC 8410 --------------
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

export function keyFromSeed(seedHex) {
  const seed = Buffer.from(seedHex, "hex");
  if (seed.length !== 32) throw new Error("the seed must be 32 bytes (64 hex digits)");
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8",
  });
  const spki = crypto.createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return { privateKey, publicKey: b64url(spki.subarray(spki.length - 32)) };
}

export const b64url = (bytes) => Buffer.from(bytes).toString("base64url"); // no padding

export function sign(message, key) {
  const signature = b64url(crypto.sign(null, signingBytes(message), key.privateKey));
  return { ...message, signature };
}

const sha256 = (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");

// ---- Kafka's default partitioner (murmur2), which every Intentcast producer must use ------
// Records are keyed by the id's UTF-8 text; kafkajs 2's default partitioner is this one, but
// librdkafka's (node-rdkafka, confluent-kafka-javascript) is CRC32 unless told murmur2_random.
export function murmur2(bytes) {
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ bytes.length) >>> 0;
  const whole = bytes.length - (bytes.length % 4);
  for (let i = 0; i < whole; i += 4) {
    let k = bytes.readUInt32LE(i);
    k = Math.imul(k, m) >>> 0;
    k = (k ^ (k >>> 24)) >>> 0;
    k = Math.imul(k, m) >>> 0;
    h = (Math.imul(h, m) ^ k) >>> 0;
  }
  const tail = bytes.length % 4;
  if (tail === 3) h = (h ^ (bytes[whole + 2] << 16)) >>> 0;
  if (tail >= 2) h = (h ^ (bytes[whole + 1] << 8)) >>> 0;
  if (tail >= 1) h = Math.imul((h ^ bytes[whole]) >>> 0, m) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, m) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  return h | 0; // signed, as Java's Utils.murmur2 returns it
}

export const partitionOf = (key, partitions) =>
  (murmur2(Buffer.from(key, "utf8")) & 0x7fffffff) % partitions;

// ---- checking ourselves against the published test vectors --------------------------------
function checkVectors(path) {
  const v = parseJson(fs.readFileSync(path)); // not JSON.parse: some integers exceed 2**53
  const failures = [];
  let checked = 0;
  const expect = (what, got, want) => {
    checked += 1;
    if (got !== want) failures.push({ what, got, want });
  };
  for (const t of v.timestamps) expect(`timestamp ${t.input}`, canonicalTime(t.input), t.canonical);
  for (const m of v.money) expect(`money ${m.input}`, canonicalMoney(m.input), m.canonical);
  for (const b of v.base64url) expect(`base64url ${b.hex}`, b64url(Buffer.from(b.hex, "hex")), b.b64url);
  for (const n of v.numbers.integer) {
    expect(`integer ${n.input}`, canonicalNumber(new JsonNumber(n.input), false), n.canonical);
  }
  for (const n of v.numbers.float) {
    expect(`float ${n.input}`, canonicalNumber(new JsonNumber(n.input), true), n.canonical);
  }
  for (const s of v.strings) expect(`string ${s.input}`, write(parseJson(s.input)), s.canonical);
  for (const [name, k] of Object.entries(v.keys)) {
    if (k.seed_hex) expect(`public key ${name}`, keyFromSeed(k.seed_hex).publicKey, k.public_key);
  }
  for (const c of v.messages) {
    if (c.kind === "agreement") continue; // holds signed messages verbatim; not a vendor's job
    const input = withDefaults(c.input, v.defaults[c.kind]);
    if (c.signing_bytes) {
      expect(`${c.name} signing bytes`, signingBytes(input).toString("utf8"), c.signing_bytes);
      const key = keyFromSeed(c.signer_seed_hex);
      expect(`${c.name} public key`, key.publicKey, c.public_key);
      const signed = sign(input, key);
      expect(`${c.name} signature`, signed.signature, c.signature);
      expect(`${c.name} canonical`, canonicalBytes(signed).toString("utf8"), c.canonical);
      expect(`${c.name} sha256`, sha256(canonicalBytes(signed)), c.sha256);
    } else {
      expect(`${c.name} canonical`, canonicalBytes(input).toString("utf8"), c.canonical);
      expect(`${c.name} sha256`, sha256(canonicalBytes(input)), c.sha256);
    }
  }
  for (const [id, t] of Object.entries(v.terms)) {
    expect(`term ${id} sha256`, sha256(Buffer.from(t.canonical, "utf8")), t.sha256);
  }
  const p = v.partitioning;
  for (const c of p.cases) {
    const key = Buffer.from(c.key, "utf8");
    expect(`key ${c.key} bytes`, key.toString("hex"), c.key_hex);
    expect(`key ${c.key} murmur2`, String(murmur2(key)), c.murmur2.text);
    expect(`key ${c.key} partition`, String(partitionOf(c.key, Number(p.partitions.text))),
      c.partition.text);
  }
  const r = v.receipt; // the principal hashes the key's base64url text, not its 32 bytes
  expect("receipt principal", `intent:${sha256(Buffer.from(r.signing_key, "ascii")).slice(0, 16)}`,
    r.pii_principal_id);
  return { ok: failures.length === 0, checked, failures };
}

// the negative vectors this vendor's parser must refuse on its own: every malformed_json case
function checkNegative(path) {
  const v = parseJson(fs.readFileSync(path));
  const failures = [];
  let checked = 0;
  for (const c of v.cases) {
    if (c.reason !== "malformed_json") continue; // the rest needs the schema (a full decoder)
    checked += 1;
    const raw = c.hex !== undefined ? Buffer.from(c.hex, "hex") : Buffer.from(c.text, "utf8");
    try {
      parseJson(raw);
      failures.push({ what: c.name, got: "parsed", want: "malformed_json" });
    } catch (err) {
      if (!(err instanceof MalformedJson || err instanceof TypeError)) throw err;
    }
  }
  return { ok: failures.length === 0, checked, failures };
}

// ---- building a vendor's messages -----------------------------------------------------------
const nowIso = (plusMs = 0) => new Date(Date.now() + plusMs).toISOString();

function profile(opts) {
  const key = keyFromSeed(opts["seed-hex"]);
  const roster = parseJson(fs.readFileSync(opts.roster)).terms;
  const accepts = Object.entries(roster).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([id, t]) => ({ id, version: t.version, sha256: t.sha256 }));
  const message = {
    kind: "vendor_profile", schema_version: 1, vendor_id: opts["vendor-id"],
    display_name: opts["display-name"] || `${opts["vendor-id"]} (Node.js)`,
    signing_key: key.publicKey, markets: opts.markets.split(",").sort(), accepts,
    updated_at: nowIso(),
  };
  return [opts["vendor-id"], sign(message, key)];
}

function offer(opts, intent) {
  const key = keyFromSeed(opts["seed-hex"]);
  // canonical times compare as text; no offer is valid after its intent expires, and with
  // --skip-expired (a live vendor) an expired intent gets none (docs/protocol.md, "Offer validity")
  const expiresAt = canonicalTime(intent.expires_at);
  const now = nowIso();
  if (opts["skip-expired"] && expiresAt <= now) return null;
  const validFor = nowIso(600_000);
  const message = {
    kind: "offer", schema_version: 1, offer_id: crypto.randomBytes(16).toString("hex"),
    intent_id: intent.intent_id, vendor_id: opts["vendor-id"],
    price: canonicalMoney(opts.price), currency: intent.currency,
    description: opts.description || "built and signed in Node.js",
    valid_until: now < expiresAt && expiresAt < validFor ? expiresAt : validFor,
    terms: intent.terms, // exactly the customer's terms: anything else is refused
    created_at: nowIso(),
  };
  const signed = sign(message, key);
  if (opts.tamper) signed.price = canonicalMoney(String(Number(signed.price) - 1)); // breaks the signature
  return [intent.intent_id, signed];
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) continue;
    const name = argv[i].slice(2);
    if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) opts[name] = argv[++i];
    else opts[name] = true;
  }
  return opts;
}

function main() {
  const [command, ...rest] = process.argv.slice(2);
  const opts = parseArgs(rest);
  const emit = ([key, message]) =>
    process.stdout.write(`${key}\t${canonicalBytes(message).toString("utf8")}\n`);
  if (command === "vectors" || command === "negative") {
    const report = command === "vectors"
      ? checkVectors(rest[0] || "schemas/vectors/vectors.json")
      : checkNegative(rest[0] || "schemas/vectors/negative.json");
    process.stdout.write(JSON.stringify(report) + "\n");
    process.exit(report.ok ? 0 : 1);
  } else if (command === "profile") {
    emit(profile(opts));
  } else if (command === "offer") {
    const made = offer(opts, parseJson(fs.readFileSync(opts.intent || 0)));
    if (made) emit(made); // nothing for an expired intent with --skip-expired
  } else {
    process.stderr.write(
      "usage: vendor.mjs vectors <file> | negative <file> | profile ... | offer ... (see header)\n");
    process.exit(2);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
