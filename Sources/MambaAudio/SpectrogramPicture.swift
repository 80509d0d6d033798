// SpectrogramPicture.swift — log-mel spectrograms of clips drawn side by side (PNG or SVG).
//
// SVG is the labelled picture (titles, time axis in s, frequency axis in Hz on the mel scale, a colour
// bar in dB — text needs no font here, the viewer has one). PNG is the bare panels on white: there is
// no bitmap font in MambaKit, so a PNG has no text; use .svg for a picture to read.
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

    // MARK: Labelled SVG

    /// Margins of a labelled panel in the SVG, in pixels: the title above, the frequency axis left, the
    /// time axis below.
    public static let svgMargins = (top: 34, left: 62, bottom: 44, right: 14)
    /// Width of the colour-bar column at the right (bar, ticks and its label).
    public static let colourBarWidth = 86

    /// The labelled picture: one panel per clip (the panel image embedded as a PNG data URI), each
    /// with its title, a frame, a time axis in seconds (ticks at a 1-2-5 step) and a frequency axis in
    /// Hz placed on the mel scale of the bands (HTK mel, 0 Hz … rate/2, ticks at 1-2-5 frequencies),
    /// then one colour bar for all panels: dB relative to the loudest mel band of all clips,
    /// 0 at the top down to −`dynamicRange`.
    ///
    /// Panel i is `panels(waves)[i].width` × `panelHeight` pixels; the whole picture is
    /// Σ (left + width_i + right) + colour bar wide and top + panelHeight + bottom high.
    public func svg(_ waves: [Waveform], titles: [String]) -> String {
        let ps = panels(waves)
        let m = Self.svgMargins, H = panelHeight
        let width = ps.reduce(0) { $0 + m.left + $1.width + m.right } + Self.colourBarWidth
        let height = m.top + H + m.bottom
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        var x0 = 0
        for (i, (p, w)) in zip(ps, waves).enumerated() {
            let title = i < titles.count ? titles[i] : "clip \(i + 1)"
            let left = x0 + m.left, top = m.top, bottom = m.top + H
            s += "<g class=\"panel\">\n"
            s += "<text class=\"title\" x=\"\(left + p.width / 2)\" y=\"\(top - 12)\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\">\(Self.escape(title))</text>\n"
            s += "<image x=\"\(left)\" y=\"\(top)\" width=\"\(p.width)\" height=\"\(p.height)\" preserveAspectRatio=\"none\" href=\"data:image/png;base64,\(PNG.encode(p).base64EncodedString())\"/>\n"
            s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(p.width)\" height=\"\(H)\" fill=\"none\" stroke=\"black\" stroke-width=\"1\"/>\n"
            // time axis
            for t in Self.timeTicks(duration: w.duration, pixels: p.width) {
                let x = Double(left) + t * Double(p.width) / max(w.duration, 1e-9)
                s += "<line x1=\"\(Self.num(x))\" y1=\"\(bottom)\" x2=\"\(Self.num(x))\" y2=\"\(bottom + 4)\" stroke=\"black\"/>"
                s += "<text class=\"tick\" x=\"\(Self.num(x))\" y=\"\(bottom + 15)\" text-anchor=\"middle\">\(Self.tickLabel(t))</text>\n"
            }
            s += "<text class=\"axis\" x=\"\(left + p.width / 2)\" y=\"\(bottom + 34)\" text-anchor=\"middle\">time (s)</text>\n"
            // frequency axis (mel-spaced)
            for (f, y) in frequencyTicks(sampleRate: w.sampleRate) {
                let yy = Double(top) + y
                s += "<line x1=\"\(left - 4)\" y1=\"\(Self.num(yy))\" x2=\"\(left)\" y2=\"\(Self.num(yy))\" stroke=\"black\"/>"
                s += "<text class=\"tick\" x=\"\(left - 6)\" y=\"\(Self.num(yy + 4))\" text-anchor=\"end\">\(f)</text>\n"
            }
            let cy = top + H / 2
            s += "<text class=\"axis\" x=\"\(x0 + 14)\" y=\"\(cy)\" text-anchor=\"middle\" transform=\"rotate(-90 \(x0 + 14) \(cy))\">frequency (Hz, mel scale)</text>\n"
            s += "</g>\n"
            x0 += m.left + p.width + m.right
        }
        // colour bar
        let barX = x0 + 10, barW = 14
        var bar = RGBImage(width: 1, height: H)
        for y in 0..<H { bar[0, y] = Self.viridis(Float(H - 1 - y) / Float(max(H - 1, 1))) }
        s += "<g class=\"colourbar\">\n"
        s += "<image x=\"\(barX)\" y=\"\(m.top)\" width=\"\(barW)\" height=\"\(H)\" preserveAspectRatio=\"none\" href=\"data:image/png;base64,\(PNG.encode(bar).base64EncodedString())\"/>\n"
        s += "<rect x=\"\(barX)\" y=\"\(m.top)\" width=\"\(barW)\" height=\"\(H)\" fill=\"none\" stroke=\"black\"/>\n"
        for db in Self.decibelTicks(range: dynamicRange) {
            let y = Double(m.top) + Double(-db) / Double(dynamicRange) * Double(H)
            s += "<line x1=\"\(barX + barW)\" y1=\"\(Self.num(y))\" x2=\"\(barX + barW + 4)\" y2=\"\(Self.num(y))\" stroke=\"black\"/>"
            s += "<text class=\"tick\" x=\"\(barX + barW + 6)\" y=\"\(Self.num(y + 4))\">\(db == 0 ? "0" : "−\(-db)")</text>\n"
        }
        let lx = barX + barW + 44, ly = m.top + H / 2
        s += "<text class=\"axis\" x=\"\(lx)\" y=\"\(ly)\" text-anchor=\"middle\" transform=\"rotate(-90 \(lx) \(ly))\">dB re loudest</text>\n"
        s += "</g>\n"
        return s + "</svg>\n"
    }

    /// Tick times (s) from 0 to `duration` at the smallest 1-2-5 step leaving ≥ 50 pixels between ticks.
    static func timeTicks(duration: Double, pixels: Int) -> [Double] {
        guard duration > 0, pixels > 0 else { return [0] }
        var step = 0.001
        let steps: [Double] = [1, 2, 5]
        search: for e in -3...6 {
            for k in steps {
                step = k * Foundation.pow(10, Double(e))
                if step * Double(pixels) / duration >= 50 { break search }
            }
        }
        return stride(from: 0, through: duration + 1e-9, by: step).map { ($0 / step).rounded() * step }
    }

    /// "0", "0.1", "0.25", "12": at most 3 decimals, no trailing zeros.
    static func tickLabel(_ t: Double) -> String {
        var str = String(format: "%.3f", t)
        while str.hasSuffix("0") { str.removeLast() }
        if str.hasSuffix(".") { str.removeLast() }
        return str
    }

    /// Frequency ticks (Hz label, pixels from the panel top) at 1-2-5 frequencies (100 Hz and up) inside
    /// the bands: band m fills rows [H − (m+1)·H/M, H − m·H/M) and is centred at mel = mel(rate/2)·(m+1)/(M+1),
    /// so frequency f sits at band position b = mel(f)/mel(rate/2)·(M+1) − 1 and y = H − (b + ½)·H/M.
    /// Ticks closer than 14 pixels to the one below are dropped.
    func frequencyTicks(sampleRate: Int) -> [(Int, Double)] {
        func mel(_ f: Double) -> Double { 2595 * Foundation.log10(1 + f / 700) }
        let top = mel(Double(sampleRate) / 2), M = Double(mels), H = Double(panelHeight)
        var out: [(Int, Double)] = []
        var last = Double.infinity
        for e in 2...5 {
            for k in [1, 2, 5] {
                let f = k * Int(Foundation.pow(10, Double(e)))
                let b = mel(Double(f)) / top * (M + 1) - 1
                guard b >= -0.5, b <= M - 0.5 else { continue }
                let y = H - (b + 0.5) * H / M
                if last - y >= 14 { out.append((f, y)); last = y }
            }
        }
        return out
    }

    /// Colour-bar ticks in dB (0, −step, … down to −range) at a 10-20-50 step giving 3–8 ticks.
    static func decibelTicks(range: Float) -> [Int] {
        let r = Int(range.rounded(.down))
        let step = [1, 2, 5, 10, 20, 50, 100].first { r / $0 <= 6 } ?? 100
        return stride(from: 0, through: r, by: step).map { -$0 }
    }

    /// A coordinate with at most one decimal.
    static func num(_ x: Double) -> String { tickLabel((x * 10).rounded() / 10) }

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
            .replacingOccurrences(of: "\"", with: "&quot;")
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
