// ModelError.swift — errors from running a model on bad input.

/// Errors raised when a model is asked to run on input it cannot take.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// A token id is negative or not below the vocabulary size.
    case tokenOutOfRange(token: Int, position: Int, vocabSize: Int, source: String?)
    /// Nothing to run on.
    case emptyInput(what: String, hint: String)
    /// A state was made for another batch size or config.
    case stateMismatch(expected: String, found: String)
    /// Inputs of one batch differ in length, or a buffer has the wrong size.
    case invalidShape(String)
    /// A class id is outside 0..<numLabels.
    case labelOutOfRange(label: Int, example: Int, numLabels: Int)
    /// Classification was asked of a model without a classification head.
    case notAClassifier
    /// Next-token logits were asked of a classifier (it has no LM head).
    case notALanguageModel
    /// A config value that random initialisation would otherwise silently ignore.
    case unsupportedInitialisation(key: String, value: String, detail: String)


    public var description: String {
        switch self {
        case let .tokenOutOfRange(token, position, vocab, source):
            let src = source.map { "\($0): " } ?? ""
            return "model error: \(src)token id \(token) at position \(position) is outside the vocabulary 0..<\(vocab) — were these ids made with this model's tokenizer?"
        case let .emptyInput(what, hint):
            return "model error: \(what) is empty — \(hint)"
        case let .stateMismatch(expected, found):
            return "model error: the recurrent state is for \(found), but this call needs \(expected) — make a new state with model.makeState(batch:)"
        case let .invalidShape(detail):
            return "model error: \(detail)"
        case let .labelOutOfRange(label, example, n):
            return "model error: example \(example) has class id \(label), outside 0..<\(n) — the data has more classes than the model's labels"
        case let .unsupportedInitialisation(key, value, detail):
            return "model error: cannot initialise a model whose config has \(key) = \(value): \(detail)"
        case .notAClassifier:
            return "model error: this model has no classification head (config.json has no num_labels/id2label) — train one with `mambakit train …-classify`, or build one with makeClassifier"
        case .notALanguageModel:
            return "model error: this model is a classifier (config.json has id2label); it has no LM head for next-token logits — use classifierLogits, or a language-model checkpoint"
        }
    }
}
