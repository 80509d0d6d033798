// SpectrogramPicture.swift — log-mel spectrograms of clips drawn side by side (PNG or SVG).
import Foundation
import MambaKit

/// Pictures of log-mel spectrograms: one panel per clip, time left to right on a common scale,
/// low frequencies at the bottom, decibels mapped through the viridis colormap over the top
/// `dynamicRange` dB of all panels together (so loudness is comparable between panels).
public struct SpectrogramPicture: Sendable {
    public var mels = 80
    public var dynamicRange: Float = 80
    public var panelHeight = 240
    /// The longest clip gets this many pixels; frames are sampled nearest-neighbour.
    public var maxPanelWidth = 640
    public var gap = 16
    public init() {}

    // MARK: Panels

    /// STFT frame of about 32 ms (a power of two), hop a quarter of it.
    static func fftSize(for rate: Int) -> Int {
        var n = 64
        while n * 2 <= max(64, rate * 32 / 1000) { n *= 2 }
        return n * 2 <= rate * 48 / 1000 ? n * 2 : n
    }

    /// The decibel values (frames, mels) of each clip.
    func decibels(_ wave: Waveform) -> (frames: Int, db: [Float]) {
        let n = Self.fftSize(for: wave.sampleRate)
        let (frames, lm) = Spectrogram(fftSize: n, hop: n / 4).logMel(wave, mels: mels, epsilon: 1e-10)
        return (frames, lm.map { $0 * Float(10 / Foundation.log(10.0)) })   // 10·log10(power)
    }

    /// One image per clip, all on the same time and colour scale.
    public func panels(_ waves: [Waveform]) -> [RGBImage] {
        let specs = waves.map(decibels)
        let top = specs.flatMap(\.db).max() ?? 0
        let longest = waves.map(\.duration).max() ?? 1
        let pixelsPerSecond = Double(maxPanelWidth) / max(longest, 1e-3)
        return zip(waves, specs).map { wave, spec in
            let width = max(1, Int((wave.duration * pixelsPerSecond).rounded()))
            var img = RGBImage(width: width, height: panelHeight)
            guard spec.frames > 0 else { return img }
            for x in 0..<width {
                let f = min(spec.frames - 1, x * spec.frames / width)
                for y in 0..<panelHeight {
                    let m = min(mels - 1, (panelHeight - 1 - y) * mels / panelHeight)
                    let v = (spec.db[f * mels + m] - (top - dynamicRange)) / dynamicRange
                    img[x, y] = Self.viridis(v)
                }
            }
            return img
        }
    }

    /// The panels side by side on white, `gap` pixels apart and around.
    public func image(_ waves: [Waveform]) -> RGBImage {
        let ps = panels(waves)
        let width = ps.reduce(gap) { $0 + $1.width + gap }
        var canvas = RGBImage(width: width, height: panelHeight + 2 * gap)
        var x = gap
        for p in ps { canvas.draw(p, x0: x, y0: gap); x += p.width + gap }
        return canvas
    }

    /// An SVG with a title over each panel (the panels embedded as PNG) and the axes named.
    public func svg(_ waves: [Waveform], titles: [String]) -> String {
        let ps = panels(waves)
        let top = 36, bottom = 34
        let width = ps.reduce(gap) { $0 + $1.width + gap }
        let height = top + panelHeight + bottom
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" font-family=\"sans-serif\" font-size=\"13\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        var x = gap
        for (i, (p, w)) in zip(ps, waves).enumerated() {
            let title = i < titles.count ? titles[i] : "clip \(i + 1)"
            s += "<text x=\"\(x)\" y=\"22\">\(Self.escape(title))</text>\n"
            s += "<image x=\"\(x)\" y=\"\(top)\" width=\"\(p.width)\" height=\"\(p.height)\" href=\"data:image/png;base64,\(PNG.encode(p).base64EncodedString())\"/>\n"
            s += "<text x=\"\(x)\" y=\"\(top + panelHeight + 16)\" font-size=\"11\">0 s</text>\n"
            s += "<text x=\"\(x + p.width)\" y=\"\(top + panelHeight + 16)\" font-size=\"11\" text-anchor=\"end\">" +
                 String(format: "%.2f s", w.duration) + "</text>\n"
            s += "<text x=\"\(x + p.width / 2)\" y=\"\(top + panelHeight + 30)\" font-size=\"11\" text-anchor=\"middle\">" +
                 "log-mel, \(mels) bands 0–\(w.sampleRate / 2) Hz, \(Int(dynamicRange)) dB range</text>\n"
            x += p.width + gap
        }
        return s + "</svg>\n"
    }

    /// Writes `path` as PNG (`.png`) or SVG (anything else ending in `.svg`), atomically.
    public func write(_ waves: [Waveform], titles: [String], to path: String) throws {
        let data: Data
        if path.lowercased().hasSuffix(".png") { data = PNG.encode(image(waves)) } else if path.lowercased().hasSuffix(".svg") {
            data = Data(svg(waves, titles: titles).utf8)
        } else {
            throw DataError.writeFailed(path: path, reason: "unknown picture type: name it .png or .svg", kind: .audio)
        }
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw DataError.writeFailed(path: path, reason: error.localizedDescription, kind: .audio)
        }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    // MARK: Colormap

    /// Viridis (matplotlib), linear between 9 stops; v clipped to [0, 1].
    public static func viridis(_ v: Float) -> (UInt8, UInt8, UInt8) {
        let stops: [(Float, Float, Float)] = [(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
                                              (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)]
        let t = (v.isFinite ? min(1, max(0, v)) : 0) * Float(stops.count - 1)
        let i = min(stops.count - 2, Int(t)), f = t - Float(i)
        let a = stops[i], b = stops[i + 1]
        return (UInt8((a.0 + (b.0 - a.0) * f).rounded()), UInt8((a.1 + (b.1 - a.1) * f).rounded()), UInt8((a.2 + (b.2 - a.2) * f).rounded()))
    }
}
