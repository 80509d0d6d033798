// MambaText.swift — the text front end: tokenizers, text data, evaluation and generation helpers.
// It knows the backbone only through token ids in and logits out.
@_exported import MambaKit
