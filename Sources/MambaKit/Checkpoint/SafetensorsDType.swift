// SafetensorsDType.swift
// The element types of safetensors tensors.

/// The element types a safetensors header may name that MambaKit understands.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f64 = "F64"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u8 = "U8"
    case bool = "BOOL"

    /// The size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Whether ``SafetensorsFile/readFloat32(_:into:)`` can read this dtype.
    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }

    /// Whether ``SafetensorsFile/readInt64(_:into:)`` can read this dtype.
    public var isInteger: Bool { !isFloatingPoint }
}
