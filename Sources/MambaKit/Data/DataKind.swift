// DataKind.swift — what a data file is read as: the first words of its errors and what a reader of
// that kind accepts, so that one error vocabulary (DataError) serves every front end.

/// What a data file is read as, e.g. text data, a token file, audio, a DNA table.
///
/// A ``DataError`` carries the kind of the reader that raised it: ``name`` is the error's prefix
/// (`audio data error: …`) and ``accepts`` completes its hint (`… — check the path (expected a folder
/// of audio files, …)`). Each front end defines its kinds as static members, e.g. `DataKind.textData`
/// (MambaText), `DataKind.audio` (MambaAudio), `DataKind.dna` (MambaDNA); a custom reader can define its own.
public struct DataKind: Hashable, Sendable, CustomStringConvertible {
    /// The error's prefix, e.g. `"text data"`, `"token file"`, `"audio"`, `"dna"`.
    public var name: String
    /// What a reader of this kind accepts, as a noun phrase for hints, e.g. `"a WAV, FLAC, OGG/Vorbis
    /// or other format libsndfile reads"`.
    public var accepts: String

    public init(name: String, accepts: String) {
        self.name = name
        self.accepts = accepts
    }

    /// ``name``.
    public var description: String { name }
}
