// LossCurve.swift — a small SVG line chart of training and validation loss.
import Foundation

/// Writes an SVG picture of loss curves (x: step, y: loss), one polyline per series.
public enum LossCurve {
    public struct Series { public var name: String; public var color: String; public var points: [(Double, Double)]
        public init(name: String, color: String, points: [(Double, Double)]) { self.name = name; self.color = color; self.points = points } }

    public static func svg(_ series: [Series], title: String, yLabel: String = "loss (nats/token)") -> String {
        let W = 720.0, H = 420.0, left = 70.0, right = 20.0, top = 40.0, bottom = 50.0
        let all = series.flatMap { $0.points }.filter { $0.1.isFinite }
        let xMin = all.map { $0.0 }.min() ?? 0, xMax = max(all.map { $0.0 }.max() ?? 1, xMin + 1)
        let yMin = min(all.map { $0.1 }.min() ?? 0, 0), yMax = max(all.map { $0.1 }.max() ?? 1, yMin + 1e-6)
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * (W - left - right) }
        func py(_ y: Double) -> Double { H - bottom - (y - yMin) / (yMax - yMin) * (H - top - bottom) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(H))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(W / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        for i in 0...5 {
            let y = yMin + (yMax - yMin) * Double(i) / 5
            s += "<line x1=\"\(left)\" y1=\"\(py(y))\" x2=\"\(W - right)\" y2=\"\(py(y))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(String(format: "%.2f", y))</text>\n"
            let x = xMin + (xMax - xMin) * Double(i) / 5
            s += "<text x=\"\(px(x))\" y=\"\(H - bottom + 18)\" text-anchor=\"middle\">\(Int(x))</text>\n"
        }
        s += "<text x=\"\(W / 2)\" y=\"\(H - 10)\" text-anchor=\"middle\">step</text>\n"
        s += "<text transform=\"translate(16,\(H / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for (i, ser) in series.enumerated() where !ser.points.isEmpty {
            let pts = ser.points.filter { $0.1.isFinite }.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.8\" points=\"\(pts)\"/>\n"
            s += "<text x=\"\(W - right - 150)\" y=\"\(top + 16 * Double(i + 1))\" fill=\"\(ser.color)\">\(escape(ser.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
