// AudioDataset.swift — a set of audio clips: a folder (recursive), a single file, or a CSV manifest,
// with optional class labels and train/test splits.
import Foundation
import MambaKit

// MARK: - Errors

extension DataKind {
    /// An audio data set: a folder of clips, one clip or a CSV manifest (errors: `audio data error: …`).
    public static let audioData = DataKind(
        name: "audio data",
        accepts: "a folder of audio files (.wav .flac .ogg …), one audio file, or a CSV manifest (file,label[,split])")
}

/// Errors only audio data sets have; each names the file or directory and says the fix. The shared
/// problems (missing path, malformed manifest, no clips, unknown label, missing split, too few
/// classes) are ``DataError``s of kind ``DataKind/audioData``.
public enum AudioDatasetError: Error, CustomStringConvertible, Equatable {
    /// The manifest has no column `column` (`columns` are those of its header).
    case missingColumn(path: String, column: String, columns: [String])
    /// A clip without a class label where one is needed.
    case missingLabel(path: String)
    /// No clip of `speaker` in the data set (`speakers` are those it has; empty when no clip names one).
    case unknownSpeaker(path: String, speaker: String, speakers: [String])
    /// A clip without a speaker where per-speaker normalisation needs one.
    case missingSpeaker(path: String)

    public var description: String {
        switch self {
        case let .missingColumn(p, c, cols):
            return "audio data error: \(p): no column '\(c)' (the header has \(cols.joined(separator: ", "))) — choose one with --label-column / name it in the header"
        case let .missingLabel(p):
            return "audio data error: \(p): this clip has no class label — put it in a directory named after its class (DATA/train/<label>/…) or give a manifest with a label column"
        case let .unknownSpeaker(p, who, all):
            return all.isEmpty
                ? "audio data error: \(p): no clip names its speaker, so '\(who)' cannot be held out — give a manifest with a speaker column or name the files <label>_<speaker>_<index>.wav"
                : "audio data error: \(p): no clip of speaker '\(who)' (the speakers are \(all.joined(separator: ", "))) — choose one of them"
        case let .missingSpeaker(p):
            return "audio data error: \(p): this clip names no speaker, which per-speaker normalisation needs — give a manifest with a speaker column, name the files <label>_<speaker>_<index>.wav, or use --normalisation per-clip"
        }
    }
}

// MARK: - Clips

/// One audio file with its optional class label, split (train/test/valid) and speaker.
public struct AudioClip: Equatable, Sendable {
    public var path: String
    public var label: String?
    public var split: String?
    /// Who speaks (a manifest's `speaker` column, or the FSDD file-name convention; see
    /// ``AudioDataset/speaker(fromFileName:)``), for leave-one-speaker-out runs.
    public var speaker: String?
    public init(path: String, label: String? = nil, split: String? = nil, speaker: String? = nil) {
        self.path = path; self.label = label; self.split = split; self.speaker = speaker
    }
}

// MARK: - Data set

/// A list of clips found at a path:
///
/// - a **CSV manifest** (`.csv`): a header, then one clip per line; `file` (relative to the manifest's
///   directory), an optional label column (`label` unless another is chosen, e.g. FSDD's `digit`) and an
///   optional `split` column. Quoted fields (with commas) are understood.
/// - a **single audio file**: one clip, no label, no split.
/// - a **directory** holding `manifest.csv`: that manifest.
/// - any other **directory**, searched recursively. When some directory on the way to the files is named
///   `train`, `test`, `valid`, `validation`, `dev` or `val` (at any depth, e.g. `DIR/recordings/train/…`),
///   it gives the split and the directory right under it the label (`DIR/train/<label>/…`; no label for
///   files directly in it); otherwise the first directory under DIR is the label (`DIR/<label>/…`; files
///   directly in DIR have none).
public struct AudioDataset: Sendable {
    /// The path the clips were listed from (named in errors).
    public var source: String
    public var clips: [AudioClip]

    /// File extensions listed from directories (libsndfile reads them; others are ignored).
    public static let audioExtensions: Set<String> = ["wav", "flac", "ogg", "oga", "opus", "aif", "aiff", "au", "snd", "caf", "w64", "mp3"]

    public init(source: String, clips: [AudioClip]) { self.source = source; self.clips = clips }

    /// Lists the clips at `path`. `labelColumn` picks a manifest's label column (default `label`,
    /// which may then be absent); naming one that does not exist is an error.
    public static func open(_ path: String, labelColumn: String? = nil) throws -> AudioDataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw DataError.fileNotFound(path: path, kind: .audioData) }
        if isDir.boolValue {
            let m = (path as NSString).appendingPathComponent("manifest.csv")
            if FileManager.default.fileExists(atPath: m) { return try manifest(m, labelColumn: labelColumn) }
            return try directory(path)
        }
        if path.lowercased().hasSuffix(".csv") { return try manifest(path, labelColumn: labelColumn) }
        try FileChecks.requireRegularFile(path: path, kind: .audioData)
        return AudioDataset(source: path, clips: [AudioClip(path: path)])
    }

    // MARK: Directories

    static func directory(_ path: String) throws -> AudioDataset {
        let root = URL(fileURLWithPath: path).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else {
            throw DataError.unreadable(path: path, reason: "the directory cannot be listed", kind: .audioData)
        }
        var relative: [[String]] = []
        for case let url as URL in walker where audioExtensions.contains(url.pathExtension.lowercased()) {
            let parts = url.standardizedFileURL.pathComponents
            relative.append(Array(parts.dropFirst(root.pathComponents.count)))
        }
        guard !relative.isEmpty else { throw DataError.empty(path: path, what: "audio files (.wav .flac .ogg …) in this directory or below it", kind: .audioData) }
        relative.sort { $0.joined(separator: "/") < $1.joined(separator: "/") }
        // The first directory (not the file name) named like a split.
        func splitIndex(_ parts: [String]) -> Int? { parts.dropLast().firstIndex(where: LabeledData.isSplitName) }
        let clips: [AudioClip] = relative.map { parts in
            let full = root.appendingPathComponent(parts.joined(separator: "/")).path
            let speaker = speaker(fromFileName: parts.last ?? "")
            if let i = splitIndex(parts) {
                return AudioClip(path: full, label: i + 2 < parts.count ? parts[i + 1] : nil, split: LabeledData.canonicalSplit(parts[i]),
                                 speaker: speaker)
            }
            return AudioClip(path: full, label: parts.count > 1 ? parts[0] : nil, split: nil, speaker: speaker)
        }
        return AudioDataset(source: path, clips: clips)
    }

    // MARK: Manifests

    static func manifest(_ path: String, labelColumn: String?) throws -> AudioDataset {
        try FileChecks.requireRegularFile(path: path, kind: .audioData)
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw badManifest(path, line: 1, "cannot be read as UTF-8 text")
        }
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        guard let headerLine = lines.first, !headerLine.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw badManifest(path, line: 1, "empty manifest")
        }
        let header = try csvFields(headerLine, path: path, line: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let fileIndex = header.firstIndex(of: "file") ?? header.firstIndex(of: "path") else {
            throw AudioDatasetError.missingColumn(path: path, column: "file", columns: header)
        }
        var labelIndex: Int? = nil
        if let c = labelColumn {
            guard let i = header.firstIndex(of: c) else { throw AudioDatasetError.missingColumn(path: path, column: c, columns: header) }
            labelIndex = i
        } else {
            labelIndex = header.firstIndex(of: "label")
        }
        let splitIndex = header.firstIndex(of: "split")
        let speakerIndex = header.firstIndex(of: "speaker")
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        var clips: [AudioClip] = []
        for (n, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let f = try csvFields(line, path: path, line: n + 1)
            guard f.count == header.count else {
                throw badManifest(path, line: n + 1, "\(f.count) fields, the header has \(header.count)")
            }
            let file = f[fileIndex]
            guard !file.isEmpty else { throw badManifest(path, line: n + 1, "empty file name") }
            let full = file.hasPrefix("/") ? file : base.appendingPathComponent(file).path
            let speaker = speakerIndex.map { f[$0] } ?? speaker(fromFileName: (file as NSString).lastPathComponent)
            clips.append(AudioClip(path: full, label: labelIndex.map { f[$0] }.flatMap { $0.isEmpty ? nil : $0 },
                                   split: splitIndex.map { LabeledData.canonicalSplit(f[$0]) },
                                   speaker: speaker.flatMap { $0.isEmpty ? nil : $0 }))
        }
        guard !clips.isEmpty else { throw DataError.empty(path: path, what: "clips listed in the manifest", kind: .audioData) }
        return AudioDataset(source: path, clips: clips)
    }

    /// Splits one CSV line (RFC 4180 quoting: "a, b" and "" inside quotes).
    static func csvFields(_ line: String, path: String, line number: Int) throws -> [String] {
        guard let f = LabeledData.fields(Array(line.utf8), delimiter: UInt8(ascii: ",")) else {
            throw badManifest(path, line: number, "unterminated quote")
        }
        return f.map { String(decoding: $0, as: UTF8.self) }
    }

    /// A manifest problem at `line`.
    static func badManifest(_ path: String, line: Int, _ detail: String) -> DataError {
        .malformed(path: path, line: line, detail: detail,
                   hint: "a manifest is CSV with a header line naming its columns, e.g. file,label,split", kind: .audioData)
    }

    // MARK: Selecting

    /// The split names present (sorted), empty when the data has none.
    public var splits: [String] { Array(Set(clips.compactMap(\.split))).sorted() }

    /// The clips of split `name` (`valid` also matches validation/dev/val). Data without splits has
    /// all its clips in every split when `allIfUnsplit`.
    public func clips(split name: String, allIfUnsplit: Bool = true) throws -> [AudioClip] {
        if splits.isEmpty, allIfUnsplit { return clips }
        let want = LabeledData.canonicalSplit(name)
        let chosen = clips.filter { $0.split == want }
        guard !chosen.isEmpty else { throw DataError.missingSplit(path: source, split: name, available: splits, kind: .audioData) }
        return chosen
    }

    /// The speaker of a file named as FSDD's are, `<label>_<speaker>_<index>.<ext>` (three non-empty
    /// fields between underscores, the last one digits): `7_lucas_12.wav` → `lucas`; nil otherwise.
    public static func speaker(fromFileName name: String) -> String? {
        let stem = (name as NSString).deletingPathExtension
        let f = stem.split(separator: "_", omittingEmptySubsequences: false)
        guard f.count == 3, f.allSatisfy({ !$0.isEmpty }), f[2].allSatisfy(\.isNumber) else { return nil }
        return String(f[1])
    }

    /// Sorted distinct speakers of the clips (those with one).
    public var speakers: [String] { Array(Set(clips.compactMap(\.speaker))).sorted() }

    /// The clips of `speaker` among `clips` (all splits when `clips` is nil).
    /// - Throws: ``AudioDatasetError/unknownSpeaker(path:speaker:speakers:)`` when the data set has none.
    public func clips(speaker: String, among clips: [AudioClip]? = nil) throws -> [AudioClip] {
        let chosen = (clips ?? self.clips).filter { $0.speaker == speaker }
        guard !chosen.isEmpty else { throw AudioDatasetError.unknownSpeaker(path: source, speaker: speaker, speakers: speakers) }
        return chosen
    }

    /// Sorted distinct labels of `clips` (numeric labels in numeric order: 2 before 10).
    public static func labels(of clips: [AudioClip]) -> [String] {
        LabeledData.labelList(clips.compactMap(\.label))
    }

    /// Class ids of `clips` against `labels`; a clip without a label or with one not in `labels` is an error naming it.
    public static func labelIndices(_ clips: [AudioClip], labels: [String]) throws -> [Int] {
        let index = LabeledData.labelIndex(labels)
        return try clips.map { c in
            guard let l = c.label else { throw AudioDatasetError.missingLabel(path: c.path) }
            guard let i = index[l] else { throw DataError.unknownLabel(path: c.path, line: nil, label: l, known: labels, kind: .audioData) }
            return i
        }
    }

    // MARK: Loading

    /// Reads `clip` as mono at `sampleRate` Hz (resampled with ``Resampler`` when its rate differs).
    /// Fewer than `minSamples` samples after resampling is ``DataError/tooShort(path:count:need:unit:hint:kind:)``.
    public static func load(_ clip: AudioClip, sampleRate: Int, minSamples: Int = 1) throws -> [Float] {
        var w = try AudioFile.read(clip.path)
        if w.sampleRate != sampleRate { w = Resampler().resample(w, to: sampleRate) }
        guard w.samples.count >= minSamples else {
            throw DataError.tooShort(path: clip.path, count: w.samples.count, need: minSamples, unit: "samples",
                                     hint: "use a longer clip or a shorter window", kind: .audio)
        }
        return w.samples
    }

    /// Reads and tokenizes `clips` (in parallel on `threads` threads), keeping their order.
    public static func tokenize(_ clips: [AudioClip], settings: AudioSettings, minSamples: Int = 1,
                                threads: Int = Parallel.defaultThreads) throws -> [[Int32]] {
        var out = [[Int32]](repeating: [], count: clips.count)
        var errors = [Error?](repeating: nil, count: clips.count)
        let lock = NSLock()
        Parallel.forParts(clips.count, threads: threads) { _, range in
            for i in range {
                do {
                    let ids = settings.encode(try load(clips[i], sampleRate: settings.sampleRate, minSamples: minSamples))
                    lock.lock(); out[i] = ids; lock.unlock()
                } catch {
                    lock.lock(); errors[i] = error; lock.unlock()
                }
            }
        }
        if let e = errors.compactMap({ $0 }).first { throw e }
        return out
    }
}
