#!/usr/bin/env bash
# The receipt core on its own: make a key, an identity, a pixbook with two cards, and verify the file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=data/demo
mkdir -p "$dir"
rm -f "$dir/key.jwk" "$dir/stream.ndjson"
pixpax() { node shared/bin/pixpax.mjs "$@"; }
pixpax keygen --out "$dir/key.jwk"
identity=$(pixpax identity --key "$dir/key.jwk" --account demo-account --name "Demo collector" --file "$dir/stream.ndjson" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).issuer.identityId))')
echo '{"title":"My first pixbook"}' |
  pixpax sign --key "$dir/key.jwk" --identity "$identity" --stream pixbook/demo-account/book-1 --type PIXBOOK_CREATED --file "$dir/stream.ndjson" >/dev/null
for card in sunset-cat pixel-fox; do
  printf '{"cardId":"%s","artHash":"sha256:%064d"}' "$card" 0 |
    pixpax sign --key "$dir/key.jwk" --identity "$identity" --stream pixbook/demo-account/book-1 --type CARD_ADDED --file "$dir/stream.ndjson" >/dev/null
done
echo "wrote $dir/stream.ndjson ($(wc -l <"$dir/stream.ndjson") receipts); verifying:"
pixpax verify "$dir/stream.ndjson"
