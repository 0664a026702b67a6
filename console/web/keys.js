// The person's key and certificate: imported once from PEM files, kept in
// this browser's IndexedDB (the key as a non-extractable CryptoKey, which
// never leaves the browser), and used to sign the sign-in statement and each
// action. PROTOCOL.md §13 and docs/CONSOLE-API.md.

const DB_NAME = 'mir-console';
const STORE = 'identity';
const RECORD = 'me';
export const LOGIN_CONTEXT = 'MIR-EXCHANGE/v1/console-login';

export class KeyError extends Error {
  constructor(code, detail = '') {
    super(code);
    this.code = code;      // a texts.js key
    this.detail = detail;
  }
}

// ---- base64 and PEM ---------------------------------------------------------

export function bytesToBase64(bytes) {
  let s = '';
  const b = new Uint8Array(bytes);
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function base64ToBytes(text) {
  const clean = String(text).replace(/-/g, '+').replace(/_/g, '/').replace(/\s+/g, '');
  const padded = clean + '='.repeat((4 - (clean.length % 4)) % 4);
  const bin = atob(padded);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// The DER inside the first PEM block labelled `label`, or null.
export function pemToDer(pem, label) {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`);
  const m = re.exec(pem);
  if (!m) return null;
  try { return base64ToBytes(m[1]); } catch { return null; }
}

// ---- just enough DER to read a certificate ---------------------------------

function readTlv(b, pos) {
  const tag = b[pos];
  let len = b[pos + 1];
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[pos + 2 + i];
    hdr = 2 + n;
  }
  const start = pos + hdr;
  if (start + len > b.length) throw new Error('truncated DER');
  return { tag, start, end: start + len, next: start + len, raw: b.subarray(pos, start + len) };
}

function children(b, tlv) {
  const out = [];
  for (let p = tlv.start; p < tlv.end;) { const c = readTlv(b, p); out.push(c); p = c.next; }
  return out;
}

function derTime(b, tlv) {
  const s = new TextDecoder().decode(b.subarray(tlv.start, tlv.end));
  // UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ
  const full = tlv.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? '19' : '20') + s : s;
  return new Date(Date.UTC(+full.slice(0, 4), +full.slice(4, 6) - 1, +full.slice(6, 8),
    +full.slice(8, 10), +full.slice(10, 12), +full.slice(12, 14)));
}

const OID_SAN = [0x55, 0x1d, 0x11]; // 2.5.29.17

// {identity, notBefore, notAfter, spki} of a DER certificate.
export function parseCertificate(der) {
  const cert = readTlv(der, 0);
  const [tbs] = children(der, cert);
  let f = children(der, tbs);
  if (f[0].tag === 0xa0) f = f.slice(1);           // version
  const validity = children(der, f[3]);
  const spki = f[5].raw;
  let identity = '';
  const ext = f.find((x) => x.tag === 0xa3);
  if (ext) {
    for (const e of children(der, children(der, ext)[0])) {
      const parts = children(der, e);
      const oid = der.subarray(parts[0].start, parts[0].end);
      if (oid.length !== 3 || !OID_SAN.every((v, i) => oid[i] === v)) continue;
      const value = parts[parts.length - 1];          // OCTET STRING
      const names = readTlv(der, value.start);
      for (const n of children(der, names)) {
        if (n.tag !== 0x86) continue;                  // [6] URI
        const uri = new TextDecoder().decode(der.subarray(n.start, n.end));
        if (uri.startsWith('mir://')) identity = uri;
      }
    }
  }
  return { identity, notBefore: derTime(der, validity[0]), notAfter: derTime(der, validity[1]), spki };
}

// ---- IndexedDB ----------------------------------------------------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function withStore(mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req?.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

// The stored {key, certificatePem, identity, notAfter} or null.
export async function loadIdentity() {
  try {
    return (await withStore('readonly', (s) => s.get(RECORD))) ?? null;
  } catch {
    return null;
  }
}

export async function forgetIdentity() {
  await withStore('readwrite', (s) => s.delete(RECORD));
}

// Imports the PEM texts: checks that the certificate names a mir:// identity,
// that the key is a PKCS#8 Ed25519 key, and that it belongs to the
// certificate (a test signature verified with the certificate's public key);
// then stores the key as non-extractable. Throws KeyError.
export async function importIdentity(certificatePem, keyPem) {
  const certDer = pemToDer(certificatePem, 'CERTIFICATE');
  if (!certDer) throw new KeyError('errNotCert');
  let cert;
  try { cert = parseCertificate(certDer); } catch { throw new KeyError('errNotCert'); }
  if (!cert.identity) throw new KeyError('errNoIdentity');
  const keyDer = pemToDer(keyPem, 'PRIVATE KEY');
  if (!keyDer) throw new KeyError('errNotKey');
  let key;
  try {
    key = await crypto.subtle.importKey('pkcs8', keyDer, { name: 'Ed25519' }, false, ['sign']);
  } catch (e) {
    if (e && e.name === 'NotSupportedError') throw new KeyError('errNoEd25519');
    throw new KeyError('errKeyImport', e?.message ?? String(e));
  }
  let matches = false;
  try {
    const pub = await crypto.subtle.importKey('spki', cert.spki, { name: 'Ed25519' }, false, ['verify']);
    const probe = new TextEncoder().encode('MIR-EXCHANGE/v1/console-key-check');
    const sig = await crypto.subtle.sign({ name: 'Ed25519' }, key, probe);
    matches = await crypto.subtle.verify({ name: 'Ed25519' }, pub, sig, probe);
  } catch { matches = false; }
  if (!matches) throw new KeyError('errKeyMismatch');
  const record = {
    key,
    certificatePem: /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(certificatePem)[0] + '\n',
    identity: cert.identity,
    notAfter: cert.notAfter.toISOString(),
  };
  await withStore('readwrite', (s) => s.put(record, RECORD));
  return record;
}

// ---- signing ------------------------------------------------------------------

export async function signBytes(key, bytes) {
  return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, bytes));
}

// "MIR-EXCHANGE/v1/console-login" || 0x00 || u64be(len(statement)) || statement
export function loginSignedBytes(statement) {
  const ctx = new TextEncoder().encode(LOGIN_CONTEXT);
  const body = new TextEncoder().encode(statement);
  const out = new Uint8Array(ctx.length + 1 + 8 + body.length);
  out.set(ctx, 0);
  out[ctx.length] = 0;
  const view = new DataView(out.buffer);
  view.setUint32(ctx.length + 1, Math.floor(body.length / 2 ** 32));
  view.setUint32(ctx.length + 5, body.length >>> 0);
  out.set(body, ctx.length + 9);
  return out;
}

// The `origin:` line of a sign-in statement.
export function statementOrigin(statement) {
  const m = /^origin: (.*)$/m.exec(statement);
  return m ? m[1] : null;
}
