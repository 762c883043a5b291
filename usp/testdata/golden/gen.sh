#!/usr/bin/env bash
# Encodes the text-format vectors in this folder into binary with protoc, a
# third-party encoder: NAME.msg.txtpb -> NAME.msg.bin (usp.Msg) and
# NAME.rec.txtpb -> NAME.rec.bin (usp_record.Record). In a record vector,
# "@OTHER.msg.bin@" inside a bytes literal stands for that message's bytes.
# Usage: gen.sh [OUTDIR]   (default: this folder; `make golden` runs it)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto=$(cd "$here/../../proto" && pwd)
out=${1:-$here}
mkdir -p "$out"
for f in "$here"/*.msg.txtpb; do
	b=$(basename "$f" .txtpb)
	protoc -I "$proto" --encode=usp.Msg usp-msg-1-4.proto <"$f" >"$out/$b.bin"
done
for f in "$here"/*.rec.txtpb; do
	b=$(basename "$f" .txtpb)
	text=$(<"$f")
	while [[ $text =~ @([a-z0-9_]+\.msg\.bin)@ ]]; do
		ref=${BASH_REMATCH[1]}
		esc=$(od -An -v -tx1 "$out/$ref" | tr -d ' \n' | sed 's/../\\x&/g')
		text=${text//"@$ref@"/"$esc"}
	done
	printf '%s\n' "$text" | protoc -I "$proto" --encode=usp_record.Record usp-record-1-4.proto >"$out/$b.bin"
done
