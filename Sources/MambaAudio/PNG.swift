// PNG.swift — an 8-bit RGB image and its PNG encoding (zlib deflate, CRC-32 per chunk).
import Foundation
import _CZlib

/// An 8-bit RGB raster, row-major, 3 bytes per pixel.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]   // (height, width, 3)

    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.width = width; self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = fill.0; pixels[3 * i + 1] = fill.1; pixels[3 * i + 2] = fill.2 }
    }

    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        get { let i = 3 * (y * width + x); return (pixels[i], pixels[i + 1], pixels[i + 2]) }
        set { let i = 3 * (y * width + x); pixels[i] = newValue.0; pixels[i + 1] = newValue.1; pixels[i + 2] = newValue.2 }
    }

    /// Copies `other` with its top-left corner at (x0, y0), clipped to this image.
    public mutating func draw(_ other: RGBImage, x0: Int, y0: Int) {
        for y in 0..<other.height where y0 + y >= 0 && y0 + y < height {
            for x in 0..<other.width where x0 + x >= 0 && x0 + x < width { self[x0 + x, y0 + y] = other[x, y] }
        }
    }
}

/// PNG (ISO/IEC 15948) writer: signature, IHDR (8-bit truecolour, no interlace), one IDAT holding the
/// zlib stream of the scanlines (each prefixed with filter type 0), IEND; every chunk ends with the
/// CRC-32 of its type and data.
public enum PNG {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func encode(_ image: RGBImage) -> Data {
        var raw = [UInt8]()
        raw.reserveCapacity(image.height * (1 + 3 * image.width))
        for y in 0..<image.height {
            raw.append(0)   // filter: none
            raw.append(contentsOf: image.pixels[(3 * y * image.width)..<(3 * (y + 1) * image.width)])
        }
        var out = Data(signature)
        var ihdr = Data()
        ihdr.append(bigEndian: UInt32(image.width)); ihdr.append(bigEndian: UInt32(image.height))
        ihdr.append(contentsOf: [8, 2, 0, 0, 0])   // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
        chunk("IHDR", ihdr, into: &out)
        chunk("IDAT", deflate(raw), into: &out)
        chunk("IEND", Data(), into: &out)
        return out
    }

    /// zlib stream (RFC 1950) of `bytes` at the default compression level.
    static func deflate(_ bytes: [UInt8]) -> Data {
        var size = compressBound(uLong(bytes.count))
        var buffer = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&buffer, &size, bytes, uLong(bytes.count), Z_DEFAULT_COMPRESSION)
        precondition(status == Z_OK, "zlib compress2 failed (\(status))")
        return Data(buffer.prefix(Int(size)))
    }

    static func chunk(_ type: String, _ data: Data, into out: inout Data) {
        out.append(bigEndian: UInt32(data.count))
        let body = Data(type.utf8) + data
        out.append(body)
        let crc = body.withUnsafeBytes { p in crc32(0, p.bindMemory(to: UInt8.self).baseAddress, uInt(body.count)) }
        out.append(bigEndian: UInt32(crc))
    }
}

extension Data {
    mutating func append(bigEndian v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }
}
