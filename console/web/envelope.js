// Reads the bytes the console asks the page to sign (PROTOCOL.md §3) before
// the key signs them: they must be an envelope's signed bytes, by this
// person, of the kind and referral the person chose, so a console can never
// get anything else signed (a sign-in statement, another referral's action).

const TAG = 'MIR-EXCHANGE/v1/envelope';
const KINDS = { 1: 'REFERRAL', 2: 'STATUS_CHANGE', 3: 'PLACEMENT_CONFIRMATION' };

function u64(view, pos) {
  const hi = view.getUint32(pos);
  const lo = view.getUint32(pos + 4);
  if (hi > 0x1fffff) throw new Error('length too large');
  return hi * 2 ** 32 + lo;
}

function varint(b, pos) {
  let v = 0; let mul = 1; let p = pos;
  for (;;) {
    if (p >= b.length) throw new Error('truncated varint');
    const byte = b[p++];
    v += (byte & 0x7f) * mul;
    if (!(byte & 0x80)) break;
    mul *= 128;
    if (mul > 2 ** 63) throw new Error('varint too long');
  }
  return [v, p];
}

// Field number -> [values] (varints as numbers, length-delimited as bytes).
function fields(b) {
  const out = {};
  let p = 0;
  while (p < b.length) {
    let key; [key, p] = varint(b, p);
    const num = Math.floor(key / 8); const wire = key & 7;
    let value;
    if (wire === 0) [value, p] = varint(b, p);
    else if (wire === 2) { let len; [len, p] = varint(b, p); value = b.subarray(p, p + len); p += len; }
    else if (wire === 1) { value = b.subarray(p, p + 8); p += 8; }
    else if (wire === 5) { value = b.subarray(p, p + 4); p += 4; }
    else throw new Error('unsupported wire type');
    if (p > b.length) throw new Error('truncated field');
    (out[num] ||= []).push(value);
  }
  return out;
}

const str = (v) => (v ? new TextDecoder().decode(v) : '');

// {kind, senderNode, recipientNode, author, referralId, sequence, body}
export function readSignedBytes(bytes) {
  const tag = new TextEncoder().encode(TAG);
  if (bytes.length < tag.length + 17) throw new Error('too short');
  for (let i = 0; i < tag.length; i++) if (bytes[i] !== tag[i]) throw new Error('not an envelope');
  if (bytes[tag.length] !== 0) throw new Error('not an envelope');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = tag.length + 1;
  const hlen = u64(view, p); p += 8;
  const header = bytes.subarray(p, p + hlen); p += hlen;
  const blen = u64(view, p); p += 8;
  const body = bytes.subarray(p, p + blen); p += blen;
  if (p !== bytes.length || header.length !== hlen || body.length !== blen) throw new Error('bad lengths');
  const f = fields(header);
  return {
    kind: KINDS[f[2]?.[0]] || `KIND_${f[2]?.[0]}`,
    senderNode: str(f[3]?.[0]),
    recipientNode: str(f[4]?.[0]),
    author: str(f[5]?.[0]),
    referralId: str(f[7]?.[0]),
    sequence: f[8]?.[0] ?? 0,
    body,
  };
}

const STATES = ['REFERRAL_STATE_UNSPECIFIED', 'SUBMITTED', 'RECEIVED', 'UNDER_EVALUATION', 'INFO_REQUESTED',
  'PLACEMENT_PROPOSED', 'PLACEMENT_ACCEPTED', 'TRANSFER_SCHEDULED', 'PLACEMENT_CONFIRMED', 'CLOSED_POSITIVE',
  'REJECTED', 'CLOSED_NEGATIVE', 'WITHDRAWN'];

// StatusChange.to_state (field 3), by name.
export function statusChangeTarget(body) {
  const v = fields(body)[3]?.[0];
  return STATES[v ?? 0] || `STATE_${v}`;
}

// Checks every item against what the person asked; returns the parsed items
// or throws Error with the reason.
export function checkToSign(items, { identity, kind, referralId, toState }) {
  const node = /^mir:\/\/([^/]+)\//.exec(identity)?.[1];
  return items.map((it) => {
    if (it.author && it.author !== identity) throw new Error(`author ${it.author} is not ${identity}`);
    if (it.senderNode && it.senderNode !== node) throw new Error(`sender ${it.senderNode} is not ${node}`);
    if (it.kind !== kind) throw new Error(`kind ${it.kind}, expected ${kind}`);
    if (referralId && it.referralId !== referralId) throw new Error('another referral');
    if (toState && kind === 'STATUS_CHANGE') {
      const target = statusChangeTarget(it.body);
      if (target !== toState) throw new Error(`to_state ${target}, expected ${toState}`);
    }
    return it;
  });
}
