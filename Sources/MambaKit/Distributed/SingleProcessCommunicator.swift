// SingleProcessCommunicator.swift — the communicator of an ordinary run: one rank, nothing to exchange.
import Foundation

/// One process: rank 0 of 1. Every reduction leaves its input as it is (the sum over one rank).
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ values: inout [Double]) throws {}
    public func allreduceMax(_ values: inout [Double]) throws {}
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func barrier() throws {}
    public func abort(code: Int32) -> Never { exit(code) }
}
