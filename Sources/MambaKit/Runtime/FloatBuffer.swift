// FloatBuffer.swift — an owned, 64-byte aligned block of Floats.

/// A fixed-size, 64-byte aligned, zero-initialised Float buffer with reference semantics.
/// Parameters, gradients, moments, states and workspaces are FloatBuffers.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
        raw.initializeMemory(as: Float.self, repeating: 0, count: max(1, count))
        pointer = raw.assumingMemoryBound(to: Float.self)
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public func slice(_ r: Range<Int>) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer + r.lowerBound, count: r.count)
    }
    public var array: [Float] { Array(buffer) }
    public func zero() { pointer.update(repeating: 0, count: count) }
}
