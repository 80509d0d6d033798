// FloatBuffer.swift — an owned, 64-byte aligned block of Floats.
#if canImport(Glibc)
import Glibc
#endif

/// A fixed-size, 64-byte aligned, zero-initialised Float buffer with reference semantics.
/// Parameters, gradients, moments, states and workspaces are FloatBuffers.
///
/// Buffers of 1 MiB or more are anonymous memory mappings: their pages are zero until first written and
/// take no memory before that, and ``releasePages(_:)`` can give pages back (they read as zero again).
/// A model whose matrices are held in 16 or 8 bits (``WeightFormat``) leaves their f32 slices of the
/// parameter block untouched or released this way, so it holds no f32 copy of them.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>
    /// Bytes mapped with mmap, or 0 for a heap allocation.
    private let mappedBytes: Int

    static let mapThreshold = 1 << 20
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        self.count = count
        let bytes = max(1, count) * 4
        if bytes >= Self.mapThreshold,
           let m = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), m != MAP_FAILED {
            mappedBytes = bytes
            pointer = m.assumingMemoryBound(to: Float.self)   // page-aligned, zero-filled on first touch
            return
        }
        mappedBytes = 0
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: Float.self, repeating: 0, count: max(1, count))
        pointer = raw.assumingMemoryBound(to: Float.self)
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit {
        if mappedBytes > 0 { munmap(UnsafeMutableRawPointer(pointer), mappedBytes) } else { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    /// Sets the floats of `range` to zero and, for a mapped buffer, returns the whole pages inside it to the
    /// system (they take no memory until written again).
    public func releasePages(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let start = UnsafeMutableRawPointer(pointer + range.lowerBound), end = UnsafeMutableRawPointer(pointer + range.upperBound)
        guard mappedBytes > 0 else { start.initializeMemory(as: Float.self, repeating: 0, count: range.count); return }
        let ps = UInt(Self.pageSize)
        let lo = (UInt(bitPattern: start) + ps - 1) / ps * ps, hi = UInt(bitPattern: end) / ps * ps
        if lo >= hi { start.initializeMemory(as: Float.self, repeating: 0, count: range.count); return }
        let pageLo = UnsafeMutableRawPointer(bitPattern: lo)!, pageHi = UnsafeMutableRawPointer(bitPattern: hi)!
        start.initializeMemory(as: UInt8.self, repeating: 0, count: pageLo - start)
        pageHi.initializeMemory(as: UInt8.self, repeating: 0, count: end - pageHi)
        madvise(pageLo, Int(hi - lo), MADV_DONTNEED)
    }

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
