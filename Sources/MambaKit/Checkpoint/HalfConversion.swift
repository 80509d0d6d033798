// HalfConversion.swift
// Bit-exact F16 / BF16 ↔ F32 conversions, scalar and bulk, for reading and writing checkpoints.

/// Bit-exact conversions between `Float` and the 16-bit IEEE binary16 (F16) and bfloat16 (BF16)
/// formats. Narrowing conversions round to nearest, ties to even; NaNs stay NaNs (quieted, with as
/// much of the payload as fits) and infinities stay infinities.
public enum HalfConversion {

    // MARK: Scalar

    /// Widens an IEEE binary16 bit pattern to `Float` (exact, including subnormals, ±inf and NaN).
    @inline(__always)
    public static func f16ToF32(_ h: UInt16) -> Float {
        let bits = UInt32(h)
        let sign = (bits & 0x8000) << 16
        let exponent = (bits >> 10) & 0x1F
        let mantissa = bits & 0x3FF
        if exponent == 0x1F {
            // Infinity or NaN: keep the payload.
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24, exactly representable in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        // Normal: rebias the exponent from 15 to 127.
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// Narrows a `Float` to an IEEE binary16 bit pattern, rounding to nearest even.
    /// Values of magnitude ≥ 65520 become ±infinity; NaNs stay (quiet) NaNs.
    @inline(__always)
    public static func f32ToF16(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let magnitude = x & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            // NaN: set the quiet bit and keep the top payload bits.
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)
        }
        if magnitude >= 0x477F_F000 {
            // ≥ 65520 (half-way between 65504 and 2^16): overflows to infinity.
            return sign | 0x7C00
        }
        if magnitude < 0x3880_0000 {
            // Below the smallest normal half (2^-14): the result is subnormal or zero. Adding 0.5
            // puts the value's 2^-24 multiples into the low mantissa bits of a Float whose ulp is
            // exactly 2^-24, so the hardware's round-to-nearest-even does the rounding.
            let shifted = Float(bitPattern: magnitude) + 0.5
            return sign | UInt16(truncatingIfNeeded: shifted.bitPattern &- 0x3F00_0000)
        }
        // Normal: rebias (−112 in the exponent field) and round the 13 dropped bits to nearest even.
        let odd = (magnitude >> 13) & 1
        let rounded = magnitude &+ 0xC800_0FFF &+ odd
        return sign | UInt16(truncatingIfNeeded: rounded >> 13)
    }

    /// Widens a bfloat16 bit pattern to `Float` (exact).
    @inline(__always)
    public static func bf16ToF32(_ b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// Narrows a `Float` to bfloat16, rounding to nearest even. NaNs stay (quiet) NaNs.
    @inline(__always)
    public static func f32ToBF16(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        if x & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: x >> 16) | 0x0040
        }
        let odd = (x >> 16) & 1
        return UInt16(truncatingIfNeeded: (x &+ 0x7FFF &+ odd) >> 16)
    }

    // MARK: Bulk

    /// All 65,536 binary16 values widened to `Float`, indexed by bit pattern.
    static let f16Table: [Float] = (0...0xFFFF).map { f16ToF32(UInt16($0)) }

    /// Widens `count` little-endian binary16 values at `source` (any alignment) into `destination`.
    public static func f16ToF32(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        f16Table.withUnsafeBufferPointer { table in
            let t = table.baseAddress!
            for i in 0..<count {
                destination[i] = t[Int(source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))]
            }
        }
    }

    /// Widens `count` little-endian bfloat16 values at `source` (any alignment) into `destination`.
    public static func bf16ToF32(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            let b = source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self)
            destination[i] = Float(bitPattern: UInt32(b) << 16)
        }
    }

    /// Narrows `count` floats into binary16 bit patterns (round to nearest even).
    public static func f32ToF16(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<UInt16>) {
        for i in 0..<count { destination[i] = f32ToF16(source[i]) }
    }

    /// Narrows `count` floats into bfloat16 bit patterns (round to nearest even).
    public static func f32ToBF16(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<UInt16>) {
        for i in 0..<count { destination[i] = f32ToBF16(source[i]) }
    }
}
