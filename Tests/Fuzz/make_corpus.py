#!/usr/bin/env python3
"""Writes the seed corpora under Tests/Fuzz/corpus/<harness>/ (small valid inputs; < 200 KB in all).

Run from anywhere: python3 Tests/Fuzz/make_corpus.py. The config and tokenizer seeds are copied
from Tests/MambaKitTests/Fixtures; the trainerstate seed is the trainer_state.json of the harness's
own tiny checkpoint (written next to it by fuzz-trainerstate as trainer_state.seed.json)."""
import gzip, io, json, os, struct, wave

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "MambaKitTests", "Fixtures")
C = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(C, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


# safetensors: every dtype, a scalar, an empty tensor, metadata
put("safetensors", "f32.safetensors", safetensors([("w", "F32", [2, 3], struct.pack("<6f", *range(6)))], {"format": "pt"}))
put("safetensors", "mixed.safetensors", safetensors([
    ("a", "F16", [4], struct.pack("<4H", 0x3C00, 0xC000, 0x7C00, 0x0001)),
    ("b", "BF16", [2], struct.pack("<2H", 0x3F80, 0x7FC0)),
    ("c", "F64", [2], struct.pack("<2d", 1.5, -2.25)),
    ("d", "I64", [2], struct.pack("<2q", -1, 1 << 40)),
    ("e", "I32", [1], struct.pack("<i", 7)),
    ("f", "I16", [2], struct.pack("<2h", -3, 3)),
    ("g", "I8", [3], struct.pack("<3b", -1, 0, 1)),
    ("h", "U8", [2], b"\x00\xff"),
    ("i", "BOOL", [2], b"\x00\x01"),
    ("s", "F32", [], struct.pack("<f", 3.0)),
    ("z", "F32", [0, 4], b""),
]))
put("safetensors", "empty_header.safetensors", safetensors([]))

# config.json: both formats
put("config", "hf_tiny_f32.json", open(os.path.join(FIX, "tiny_f32", "config.json"), "rb").read())
put("config", "mamba_ssm.json", json.dumps({"d_model": 16, "n_layer": 2, "vocab_size": 50, "pad_vocab_size_multiple": 8,
                                             "ssm_cfg": {"d_state": 8, "d_conv": 4, "expand": 2}, "rms_norm": True,
                                             "residual_in_fp32": True, "fused_add_norm": True, "tie_embeddings": True}))

# tokenizer.json: the small fixture tokenizer (28 KB) and a minimal byte-level BPE
put("tokenizer", "small.json", open(os.path.join(FIX, "tokenizers", "small", "tokenizer.json"), "rb").read())
put("tokenizer", "minimal.json", json.dumps({
    "version": "1.0", "added_tokens": [{"id": 5, "content": "<|endoftext|>", "special": True}],
    "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3, "\u0120ab": 4, "<|endoftext|>": 5},
              "merges": ["a b", "\u0120 ab"], "unk_token": None, "fuse_unk": False, "byte_fallback": False}}))

# FASTA / FASTQ, plain and gzip
fa = ">seq1 first record\nACGTACGTNN\nacgtRYKM\n>seq2\n\nGATTACA\n"
fq = "@r1 desc\nACGTN\n+\nIIII#\n@r2\nGG\n+r2\n!!\n"
put("sequence", "two.fa", fa)
put("sequence", "two.fq", fq)
put("sequence", "two.fa.gz", gzip.compress(fa.encode(), mtime=0))
put("sequence", "crlf.fa", fa.replace("\n", "\r\n"))

# CSV / TSV tables (DNA tables and audio manifests)
put("table", "dna.csv", "sequence,label\nACGT,1\n\"GG,TT\",0\nacgn,\"a \"\"b\"\"\"\n")
put("table", "dna.tsv", "seq\tclass\tsplit\nACGT\tx\ttrain\nTTGA\ty\tdev\n")
put("table", "noheader.csv", "ACGT,1\nGGCC,0\n")
put("table", "manifest.csv", "file,label,split\na.wav,yes,train\n\"b, c.wav\",no,test\n/abs/d.flac,,validation\r\n")

# audio: 16-bit mono, 8-bit stereo WAV, 32-bit float WAV (a few samples each)
def wav(rate, width, channels, frames):
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(channels); w.setsampwidth(width); w.setframerate(rate); w.writeframes(frames)
    return b.getvalue()
put("audio", "s16_mono.wav", wav(16000, 2, 1, struct.pack("<8h", 0, 1000, -1000, 32767, -32768, 5, -5, 0)))
put("audio", "u8_stereo.wav", wav(8000, 1, 2, bytes([128, 130, 120, 255, 0, 128])))
fmt = struct.pack("<HHIIHH", 3, 1, 22050, 22050 * 4, 4, 32)
data = struct.pack("<4f", 0.0, 0.5, -0.5, 1.0)
put("audio", "f32_mono.wav", b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
    + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)

# token files (MKTOK1): uint16 and uint32 ids, and an empty one
def tokens(ids, vocab, width):
    return b"MKTOK1" + bytes([width, 0]) + struct.pack("<QQ", len(ids), vocab) + \
        b"".join(struct.pack("<H" if width == 2 else "<I", i) for i in ids)
put("tokenfile", "u16.tokens", tokens([0, 1, 2, 50279], 50280, 2))
put("tokenfile", "u32.tokens", tokens([0, 70000, 5], 100000, 4))
put("tokenfile", "empty.tokens", tokens([], 10, 2))

# trainer_state.json: the harness's own (copied after one run) if present
seed = os.environ.get("TRAINER_STATE_SEED")
if seed and os.path.exists(seed):
    put("trainerstate", "tiny.json", open(seed, "rb").read())
