// DistributedError.swift — failures of a data-parallel run, each naming the rank and the fix.
import Foundation

/// Errors of the MPI layer and of a data-parallel run.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    /// libmpi could not be loaded or initialised (the message names the library and the fix).
    case unavailable(String)
    /// An MPI call failed (the message names the rank and the call).
    case callFailed(String)
    /// The run cannot be split over this many ranks.
    case cannotSplit(String)
    /// The ranks disagree about something they must share (e.g. the parameter count or the options).
    case ranksDisagree(String)

    public var description: String {
        switch self {
        case let .unavailable(s), let .callFailed(s): return s
        case let .cannotSplit(s): return "distributed error: \(s)"
        case let .ranksDisagree(s): return "distributed error: the ranks disagree: \(s) — every rank must run the same command on the same data"
        }
    }
}
