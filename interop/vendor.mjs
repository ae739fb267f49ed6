#!/usr/bin/env node
// An Intentcast vendor in plain Node.js (no npm packages, no Python): it builds and signs
// VendorProfile and Offer messages by the rules of docs/protocol.md, and checks itself
// against schemas/vectors/vectors.json. Kafka I/O is left to Kafka's console tools or kcat:
// every message is printed as "<key>\t<json>", ready for a producer with parse.key=true.
// A profile goes to the vendor's own topic intentcast.vendor.<vendor_id>.profile (which only
// that vendor's principal may write), offers to intentcast.offers.submitted.
//
//   node interop/vendor.mjs vectors schemas/vectors/vectors.json
//   node interop/vendor.mjs profile --seed-hex <64 hex> --vendor-id node-bikes \
//        --markets bikes --roster schemas/vectors/vectors.json
//   node interop/vendor.mjs offer --seed-hex <64 hex> --vendor-id node-bikes --price 120 < intent.json
//   (add --tamper to alter the price after signing: the processors must refuse it)
import crypto from "node:crypto";
import fs from "node:fs";

// ---- canonical JSON (docs/protocol.md, "Canonical encoding") ----------------------------
const MONEY_FIELDS = new Set(["price", "max_price"]);
const TIME_FIELDS = new Set(["valid_until", "needed_by", "expires_at", "at"]);

export function canonicalMoney(text) {
  const m = /^([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(String(text).trim());
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
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/
    .exec(text);
  if (!m) throw new Error(`not an RFC 3339 timestamp: ${text}`);
  const ms = (m[5] || "").padEnd(3, "0").slice(0, 3); // truncate, never round
  const offset = m[6].toUpperCase() === "Z" ? "Z" : m[6];
  const base = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}.${ms}${offset}`);
  return new Date(base).toISOString(); // always UTC, three fraction digits, Z
}

function normalise(value, key) {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) return value.map((v) => normalise(v, undefined));
  if (typeof value === "object") {
    const out = {};
    for (const k of Object.keys(value).sort()) {
      const v = normalise(value[k], k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  if (typeof value === "string" && MONEY_FIELDS.has(key)) return canonicalMoney(value);
  if (typeof value === "string" && key && (TIME_FIELDS.has(key) || key.endsWith("_at"))) {
    return canonicalTime(value);
  }
  return value;
}

// sorted keys (JSON.stringify keeps insertion order), nulls dropped, no whitespace, raw UTF-8
export function canonicalBytes(message) {
  return Buffer.from(JSON.stringify(normalise(message, undefined)), "utf8");
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

// ---- checking ourselves against the published test vectors --------------------------------
function checkVectors(path) {
  const v = JSON.parse(fs.readFileSync(path, "utf8"));
  const failures = [];
  let checked = 0;
  const expect = (what, got, want) => {
    checked += 1;
    if (got !== want) failures.push({ what, got, want });
  };
  for (const t of v.timestamps) expect(`timestamp ${t.input}`, canonicalTime(t.input), t.canonical);
  for (const m of v.money) expect(`money ${m.input}`, canonicalMoney(m.input), m.canonical);
  for (const b of v.base64url) expect(`base64url ${b.hex}`, b64url(Buffer.from(b.hex, "hex")), b.b64url);
  for (const [name, k] of Object.entries(v.keys)) {
    if (k.seed_hex) expect(`public key ${name}`, keyFromSeed(k.seed_hex).publicKey, k.public_key);
  }
  for (const c of v.messages) {
    if (c.kind === "agreement") continue; // holds signed messages verbatim; not a vendor's job
    // metrics carry floats such as 2.0, which a JS number cannot tell from 2; they are never
    // signed and only processors write them, so a vendor never needs their canonical bytes
    if (c.kind === "metrics") continue;
    if (c.signing_bytes) {
      expect(`${c.kind} signing bytes`, signingBytes(c.input).toString("utf8"), c.signing_bytes);
      const key = keyFromSeed(c.signer_seed_hex);
      expect(`${c.kind} public key`, key.publicKey, c.public_key);
      const signed = sign(c.input, key);
      expect(`${c.kind} signature`, signed.signature, c.signature);
      expect(`${c.kind} canonical`, canonicalBytes(signed).toString("utf8"), c.canonical);
      expect(`${c.kind} sha256`, sha256(canonicalBytes(signed)), c.sha256);
    } else {
      expect(`${c.kind} canonical`, canonicalBytes(c.input).toString("utf8"), c.canonical);
      expect(`${c.kind} sha256`, sha256(canonicalBytes(c.input)), c.sha256);
    }
  }
  for (const [id, t] of Object.entries(v.terms)) {
    expect(`term ${id} sha256`, sha256(Buffer.from(t.canonical, "utf8")), t.sha256);
  }
  return { ok: failures.length === 0, checked, failures };
}

// ---- building a vendor's messages -----------------------------------------------------------
const nowIso = (plusMs = 0) => new Date(Date.now() + plusMs).toISOString();

function profile(opts) {
  const key = keyFromSeed(opts["seed-hex"]);
  const roster = JSON.parse(fs.readFileSync(opts.roster, "utf8")).terms;
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
  const message = {
    kind: "offer", schema_version: 1, offer_id: crypto.randomBytes(16).toString("hex"),
    intent_id: intent.intent_id, vendor_id: opts["vendor-id"],
    price: canonicalMoney(opts.price), currency: intent.currency,
    description: opts.description || "built and signed in Node.js", valid_until: nowIso(600_000),
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
  if (command === "vectors") {
    const report = checkVectors(rest[0] || "schemas/vectors/vectors.json");
    process.stdout.write(JSON.stringify(report) + "\n");
    process.exit(report.ok ? 0 : 1);
  } else if (command === "profile") {
    emit(profile(opts));
  } else if (command === "offer") {
    const intent = JSON.parse(fs.readFileSync(opts.intent || 0, "utf8"));
    emit(offer(opts, intent));
  } else {
    process.stderr.write("usage: vendor.mjs vectors <file> | profile ... | offer ... (see header)\n");
    process.exit(2);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
