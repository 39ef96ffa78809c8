#!/usr/bin/env python3
"""
A second, independent implementation of the PixPax receipt and log specs (docs/receipts.md §1–3,
docs/log.md §1–4), written from those pages alone in another language, so that the TypeScript reference
and the documents cannot drift apart unnoticed. Python 3 standard library plus `cryptography` (Debian:
python3-cryptography) for ECDSA P-256.

  pixpax_verify.py receipts RECEIPTS.ndjson             chains, hashes, low-S signatures, keys per identity
  pixpax_verify.py log LOG_DIR KEY                        tiles, entry bundles, root, signed checkpoint
  pixpax_verify.py store OBJECTS_DIR KEY                  the log, then every receipt it names, in log order

KEY is the relay's public key: a JWK file (`relay-key.jwk`, private or public) or the log vectors'
`relay-key.json`. Prints one `ok …` line, or raises (exit 1) naming what failed.
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SPKI_PREFIX = bytes.fromhex('3059301306072a8648ce3d020106082a8648ce3d030107034200')


def fail(what):
    raise SystemExit(f'FAIL: {what}')


def b64url(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def sha256(data):
    return hashlib.sha256(data).digest()


# ---- receipts (docs/receipts.md) -----------------------------------------------------------------

def jcs(value):
    """RFC 8785 for what receipts may hold: objects, arrays, strings, integers, booleans, null."""
    if isinstance(value, dict):
        members = sorted(value.items(), key=lambda kv: kv[0].encode('utf-16-be'))
        return '{' + ','.join(json.dumps(k, ensure_ascii=False) + ':' + jcs(v) for k, v in members) + '}'
    if isinstance(value, list):
        return '[' + ','.join(jcs(v) for v in value) + ']'
    if value is True:
        return 'true'
    if value is False:
        return 'false'
    if value is None:
        return 'null'
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            fail(f'integer out of range: {value}')
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    fail(f'not a receipt value: {value!r} (floats are not allowed)')


def thumbprint(jwk):
    text = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (jwk['x'], jwk['y'])
    return base64.urlsafe_b64encode(sha256(text.encode())).rstrip(b'=').decode()


def public_key(jwk):
    numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(b64url(jwk['x']), 'big'), int.from_bytes(b64url(jwk['y']), 'big'), ec.SECP256R1())
    return numbers.public_key()


def no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            fail(f'duplicate member {key!r}')
        seen[key] = value
    return seen


class ReceiptChecker:
    def __init__(self):
        # (identityId, publicKeyId) -> JWK: a key counts only for the identity whose stream introduced it
        # (IDENTITY_CREATED, KEY_ADDED). Revocation by log position is out of this verifier's scope.
        self.keys = {}
        self.heads = {}
        self.count = 0

    def add(self, text):
        r = json.loads(text, object_pairs_hook=no_duplicates)
        where = r.get('eventId', '?')
        if set(r) != {'eventId', 'stream', 'type', 'payload', 'createdAt', 'issuer', 'idempotencyKey',
                      'prevEventId', 'prevHash', 'hash', 'signature', 'schemaVersion'}:
            fail(f'{where}: members {sorted(r)}')
        if r['schemaVersion'] != 1:
            fail(f'{where}: schemaVersion')
        body = {k: v for k, v in r.items() if k not in ('hash', 'signature')}
        canonical = jcs(body).encode()
        if len(canonical) > 65536:
            fail(f'{where}: over 64 KiB')
        if 'sha256:' + hashlib.sha256(canonical).hexdigest() != r['hash']:
            fail(f'{where}: hash')
        if not r['signature'].startswith('ecdsa-p256:'):
            fail(f'{where}: signature prefix')
        raw = base64.b64decode(r['signature'][len('ecdsa-p256:'):], validate=True)
        if len(raw) != 64 or base64.b64encode(raw).decode() != r['signature'][len('ecdsa-p256:'):]:
            fail(f'{where}: signature encoding')
        sig_r, sig_s = int.from_bytes(raw[:32], 'big'), int.from_bytes(raw[32:], 'big')
        if not (1 <= sig_r < P256_N and 1 <= sig_s <= P256_N // 2):
            fail(f'{where}: signature not low-S / out of range')
        stream = r['stream']
        issuer = (r['issuer']['identityId'], r['issuer']['publicKeyId'])
        introduced = r['payload'].get('publicKey') if stream['type'] == 'identity' else None
        if r['type'] == 'IDENTITY_CREATED' and introduced and stream.get('identityId') == issuer[0]:
            self.keys.setdefault((issuer[0], thumbprint(introduced)), introduced)  # self-signed genesis
        jwk = self.keys.get(issuer)
        if jwk is None:
            fail(f'{where}: key {issuer[1]} unknown for identity {issuer[0]}')
        public_key(jwk).verify(encode_dss_signature(sig_r, sig_s), canonical, ec.ECDSA(hashes.SHA256()))
        if r['type'] == 'KEY_ADDED' and introduced and stream.get('identityId') == issuer[0]:
            self.keys.setdefault((issuer[0], thumbprint(introduced)), introduced)
        key = '/'.join([stream['type']] + [v for k, v in stream.items() if k != 'type'])
        prev = self.heads.get(key)
        expected = (prev['eventId'], prev['hash']) if prev else (None, None)
        if (r['prevEventId'], r['prevHash']) != expected:
            fail(f'{where}: chain of {key}')
        if prev and not r['eventId'] > prev['eventId']:
            fail(f'{where}: eventId order in {key}')
        self.heads[key] = r
        self.count += 1
        return key, r


# ---- the log (docs/log.md) -----------------------------------------------------------------------

def mth(leaves):
    if not leaves:
        return sha256(b'')
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha256(b'\x01' + mth(leaves[:k]) + mth(leaves[k:]))


def tile_index(n):
    """{N} as 3-digit groups, all but the last prefixed with x (docs/log.md §3)."""
    path = '%03d' % (n % 1000)
    n //= 1000
    while n:
        path = 'x%03d/' % (n % 1000) + path
        n //= 1000
    return path


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def spki_of(key_path):
    data = json.load(open(key_path))
    if 'spkiDer' in data:
        return bytes.fromhex(data['spkiDer'])
    return SPKI_PREFIX + b'\x04' + b64url(data['x']) + b64url(data['y'])


def verify_log(log_dir, key_path):
    """Returns the leaf data of every entry, after checking the checkpoint, the root and every tile."""
    note = read(os.path.join(log_dir, 'checkpoint')).decode()
    text, _, signatures = note.rpartition('\n\n')
    text += '\n'
    lines = text.split('\n')
    if len(lines) != 4 or lines[3] != '':
        fail('checkpoint body is not three lines')
    origin, size, root_b64 = lines[0], int(lines[1]), lines[2]
    if str(size) != lines[1]:
        fail('checkpoint size')
    spki = spki_of(key_path)
    key_id = sha256(spki)[:4]
    verifier = serialization.load_der_public_key(spki)
    trusted = 0
    for line in signatures.rstrip('\n').split('\n'):
        if not line.startswith('\u2014 '):
            fail(f'signature line {line!r}')
        name, encoded = line[2:].split(' ')
        raw = base64.b64decode(encoded, validate=True)
        if name == origin and raw[:4] == key_id:
            verifier.verify(raw[4:], text.encode(), ec.ECDSA(hashes.SHA256()))  # DER, type 0x02
            trusted += 1
    if not trusted:
        fail('no signature by the relay key')
    tiles = os.path.join(log_dir, 'tile')
    bundles = [read(os.path.join(tiles, 'entries', tile_index(n))) for n in range(size // 256)]
    if size % 256:
        bundles.append(read(os.path.join(tiles, 'entries', tile_index(size // 256) + '.p', str(size % 256))))
    entries = []
    for bundle in bundles:
        at = 0
        while at < len(bundle):
            length = int.from_bytes(bundle[at:at + 2], 'big')
            entries.append(bundle[at + 2:at + 2 + length])
            at += 2 + length
    if len(entries) != size:
        fail(f'{len(entries)} entries for size {size}')
    for data in entries:
        entry = json.loads(data, object_pairs_hook=no_duplicates)
        if set(entry) != {'eventId', 'hash', 'seq', 'stream'} or jcs(entry).encode() != data:
            fail(f'leaf data not canonical: {data!r}')
    level = [sha256(b'\x00' + d) for d in entries]
    if base64.b64encode(mth(level)).decode() != root_b64:
        fail('root')
    height = 0
    while level:
        full = len(level) // 256
        for n in range(full):
            if read(os.path.join(tiles, str(height), tile_index(n))) != b''.join(level[n * 256:(n + 1) * 256]):
                fail(f'tile {height}/{n}')
        if len(level) % 256:
            partial = os.path.join(tiles, str(height), tile_index(full) + '.p', str(len(level) % 256))
            if read(partial) != b''.join(level[full * 256:]):
                fail(f'partial tile {height}/{full}')
        level = [mth(level[n * 256:(n + 1) * 256]) for n in range(full)]
        height += 1
    return origin, size, root_b64, entries


def main(argv):
    if len(argv) == 3 and argv[1] == 'receipts':
        checker = ReceiptChecker()
        for line in open(argv[2], encoding='utf-8'):
            if line.strip():
                checker.add(line)
        print(f'ok receipts: {checker.count} in {len(checker.heads)} streams')
    elif len(argv) == 4 and argv[1] == 'log':
        origin, size, root, _ = verify_log(argv[2], argv[3])
        print(f'ok log: {origin} size {size} root {root}')
    elif len(argv) == 4 and argv[1] == 'store':
        origin, size, root, entries = verify_log(os.path.join(argv[2], 'pixpax', 'log'), argv[3])
        objects = {}
        for directory, _, files in os.walk(os.path.join(argv[2], 'pixpax')):
            if os.path.basename(directory) == 'events':
                for name in files:
                    # `.tmp-…` files are a crashed write's temp files, never objects (no key starts with a dot)
                    if name.endswith('.json') and not name.startswith('.'):
                        objects[name[:-len('.json')]] = os.path.join(directory, name)
        checker = ReceiptChecker()
        seqs = {}
        for data in entries:
            entry = json.loads(data)
            if entry['eventId'] not in objects:
                fail(f'no receipt object for log entry {entry}')
            key, receipt = checker.add(read(objects[entry['eventId']]).decode())
            seqs[key] = seqs.get(key, 0) + 1
            if (key, receipt['hash'], seqs[key]) != (entry['stream'], entry['hash'], entry['seq']):
                fail(f'log entry {entry} does not match its receipt')
        # Objects the log does not name are a crashed append's leftovers, not part of the history (the
        # relay's verify-store lists them as orphans too); they are counted, not verified.
        orphans = len(objects) - size
        print(f'ok store: {origin} size {size} root {root}; {checker.count} receipts in {len(checker.heads)} streams; {orphans} orphans')
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
