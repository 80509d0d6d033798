// BPEInternals.swift
// The hot parts of BPETokenizer: the merge table, the BPE merge loop, the per-piece cache and the
// added-token trie. All internal.

// MARK: - Hashing

@inline(__always)
func mixHash(_ x: UInt64) -> UInt64 {
    var z = x &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 32)) &* 0xD6E8_FEB8_6659_FD93
    return z ^ (z >> 32)
}

@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(n)
    var i = 0
    while i + 8 <= n {
        h = mixHash(h ^ UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
        i += 8
    }
    if i < n {
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n { tail |= UInt64(p[i]) << shift; shift += 8; i += 1 }
        h = mixHash(h ^ tail)
    }
    return h
}

// MARK: - MergeTable

/// (left id, right id) → (rank, merged id), as an open-addressing hash table. Immutable once built.
final class MergeTable: @unchecked Sendable {
    private let mask: Int
    private let keys: UnsafeMutablePointer<UInt64>     // UInt64.max = empty
    private let values: UnsafeMutablePointer<UInt64>   // rank << 32 | merged id

    init(_ merges: [(left: Int32, right: Int32, merged: Int32)]) {
        var capacity = 16
        while capacity < merges.count * 2 { capacity <<= 1 }
        mask = capacity - 1
        keys = .allocate(capacity: capacity)
        keys.initialize(repeating: .max, count: capacity)
        values = .allocate(capacity: capacity)
        values.initialize(repeating: 0, count: capacity)
        // Like tokenizers' HashMap collect: a pair listed twice keeps its last rank.
        for (rank, m) in merges.enumerated() {
            let key = UInt64(UInt32(bitPattern: m.left)) << 32 | UInt64(UInt32(bitPattern: m.right))
            var slot = Int(truncatingIfNeeded: mixHash(key)) & mask
            while keys[slot] != .max && keys[slot] != key { slot = (slot + 1) & mask }
            keys[slot] = key
            values[slot] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: m.merged))
        }
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// `rank << 32 | merged id` for the pair, or nil.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64? {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var slot = Int(truncatingIfNeeded: mixHash(key)) & mask
        while true {
            let k = keys[slot]
            if k == key { return values[slot] }
            if k == .max { return nil }
            slot = (slot + 1) & mask
        }
    }
}

// MARK: - Word merging

/// Scratch space for merging one word, reused across words of one `encode` call.
struct MergeScratch {
    var c: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var len: [Int32] = []
    var heap: [UInt64] = []   // rank << 32 | pos (min-heap: lowest rank, then leftmost position)
    var heapID: [Int32] = []  // merged id, parallel to heap
}

extension MergeTable {
    /// Merges the symbols in `scratch.c` (with `scratch.len` > 0) exactly like tokenizers' `Word::merge_all`
    /// (priority queue on (rank, position), stale entries detected by the merged id), then appends the
    /// surviving symbols to `out`.
    func mergeWord(_ s: inout MergeScratch, into out: inout [Int32]) {
        let n = s.c.count
        if n == 0 { return }
        if n == 1 { out.append(s.c[0]); return }
        s.prev.removeAll(keepingCapacity: true)
        s.next.removeAll(keepingCapacity: true)
        for i in 0..<n {
            s.prev.append(Int32(i - 1))
            s.next.append(i + 1 < n ? Int32(i + 1) : -1)
        }
        s.heap.removeAll(keepingCapacity: true)
        s.heapID.removeAll(keepingCapacity: true)
        for i in 0..<(n - 1) {
            if let v = lookup(s.c[i], s.c[i + 1]) {
                heapPush(&s, rankPos: (v >> 32) << 32 | UInt64(i), id: Int32(truncatingIfNeeded: v))
            }
        }
        while !s.heap.isEmpty {
            let (top, newID) = heapPop(&s)
            let pos = Int(top & 0xFFFF_FFFF)
            if s.len[pos] == 0 { continue }
            let nextPos = Int(s.next[pos])
            if nextPos < 0 { continue }
            // Skip expired entries: the pair at pos must still merge into the same id.
            guard let v = lookup(s.c[pos], s.c[nextPos]), Int32(truncatingIfNeeded: v) == newID else { continue }
            s.c[pos] = newID
            s.len[pos] += s.len[nextPos]
            let rightNext = s.next[nextPos]
            s.next[pos] = rightNext
            s.len[nextPos] = 0
            if rightNext >= 0 { s.prev[Int(rightNext)] = Int32(pos) }
            let p = s.prev[pos]
            if p >= 0, let v = lookup(s.c[Int(p)], newID) {
                heapPush(&s, rankPos: (v >> 32) << 32 | UInt64(p), id: Int32(truncatingIfNeeded: v))
            }
            if rightNext >= 0, let v = lookup(newID, s.c[Int(rightNext)]) {
                heapPush(&s, rankPos: (v >> 32) << 32 | UInt64(pos), id: Int32(truncatingIfNeeded: v))
            }
        }
        for i in 0..<n where s.len[i] != 0 { out.append(s.c[i]) }
    }

    @inline(__always)
    private func heapPush(_ s: inout MergeScratch, rankPos: UInt64, id: Int32) {
        s.heap.append(rankPos)
        s.heapID.append(id)
        var i = s.heap.count - 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if s.heap[parent] <= s.heap[i] { break }
            s.heap.swapAt(parent, i)
            s.heapID.swapAt(parent, i)
            i = parent
        }
    }

    @inline(__always)
    private func heapPop(_ s: inout MergeScratch) -> (UInt64, Int32) {
        let top = (s.heap[0], s.heapID[0])
        let last = s.heap.count - 1
        s.heap.swapAt(0, last)
        s.heapID.swapAt(0, last)
        s.heap.removeLast()
        s.heapID.removeLast()
        let n = s.heap.count
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var m = l
            if l + 1 < n && s.heap[l + 1] < s.heap[l] { m = l + 1 }
            if s.heap[i] <= s.heap[m] { break }
            s.heap.swapAt(i, m)
            s.heapID.swapAt(i, m)
            i = m
        }
        return top
    }
}

// MARK: - PieceCache

/// Pre-token bytes → token ids, as an open-addressing hash table with its keys and values in arenas.
/// Not thread-safe: each `encode` call checks one out (see `BPETokenizer`).
final class PieceCache {
    private struct Entry {
        var hash: UInt64
        var keyStart: Int32
        var keyCount: Int32
        var valueStart: Int32
        var valueCount: Int32
    }

    private var slots: [Int32]            // entry index, -1 = empty
    private var entries: [Entry] = []
    private var keyBytes: [UInt8] = []
    private(set) var values: [Int32] = []
    private var mask: Int

    /// Entries beyond which the cache is emptied rather than grown (bounds its memory to a few MB).
    static let maxEntries = 1 << 16

    init() {
        slots = [Int32](repeating: -1, count: 1024)
        mask = 1023
    }

    var count: Int { entries.count }

    func removeAll() {
        slots = [Int32](repeating: -1, count: 1024)
        mask = 1023
        entries.removeAll(keepingCapacity: true)
        keyBytes.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }

    /// The range of `values` cached for the key, or nil.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64) -> Range<Int>? {
        var slot = Int(truncatingIfNeeded: hash) & mask
        return slots.withUnsafeBufferPointer { slotsBuf -> Range<Int>? in
            entries.withUnsafeBufferPointer { entriesBuf -> Range<Int>? in
                keyBytes.withUnsafeBufferPointer { keysBuf -> Range<Int>? in
                    while true {
                        let e = Int(slotsBuf[slot])
                        if e < 0 { return nil }
                        let entry = entriesBuf[e]
                        if entry.hash == hash && Int(entry.keyCount) == n
                            && memcmp(keysBuf.baseAddress! + Int(entry.keyStart), p, n) == 0 {
                            return Int(entry.valueStart)..<Int(entry.valueStart + entry.valueCount)
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    /// Stores `ids` for the key (which must not be present yet).
    func insert(_ p: UnsafePointer<UInt8>, _ n: Int, hash: UInt64, ids: ArraySlice<Int32>) {
        if entries.count >= Self.maxEntries { removeAll() }
        if (entries.count + 1) * 2 > slots.count { grow() }
        let entry = Entry(hash: hash, keyStart: Int32(keyBytes.count), keyCount: Int32(n),
                          valueStart: Int32(values.count), valueCount: Int32(ids.count))
        keyBytes.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        values.append(contentsOf: ids)
        place(Int32(entries.count), hash: hash)
        entries.append(entry)
    }

    private func place(_ index: Int32, hash: UInt64) {
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = index
    }

    private func grow() {
        let capacity = slots.count * 2
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        for (i, e) in entries.enumerated() { place(Int32(i), hash: e.hash) }
    }
}

// MARK: - AddedTokenTrie

/// A byte trie over added-token contents, found leftmost-longest like aho-corasick's `LeftmostLongest`.
struct AddedTokenTrie {
    /// Node → child per byte; children are stored as (byte, child) pairs in `edges[edgeStart[n]..<edgeStart[n+1]]`
    /// after `finalize`. Node 0 is the root; `rootChild` indexes the root's children directly.
    private var rootChild = [Int32](repeating: -1, count: 256)
    private var children: [[(UInt8, Int32)]] = [[]]
    private var terminal: [Int32] = [-1]   // index into the token list, -1 if none

    var isEmpty: Bool { children.count == 1 }

    mutating func insert(_ bytes: [UInt8], value: Int32) {
        guard !bytes.isEmpty else { return }
        var node: Int32 = 0
        for (depth, b) in bytes.enumerated() {
            var next: Int32 = -1
            if depth == 0 {
                next = rootChild[Int(b)]
            } else if let e = children[Int(node)].first(where: { $0.0 == b }) {
                next = e.1
            }
            if next < 0 {
                next = Int32(children.count)
                children.append([])
                terminal.append(-1)
                if depth == 0 { rootChild[Int(b)] = next }
                children[Int(node)].append((b, next))
            }
            node = next
        }
        if terminal[Int(node)] < 0 { terminal[Int(node)] = value }
    }

    /// The longest token starting at `i` in `p[i..<end]`: (value, end offset), or nil.
    @inline(__always)
    func longestMatch(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> (Int32, Int)? {
        var node = rootChild[Int(p[i])]
        if node < 0 { return nil }
        var best: (Int32, Int)? = nil
        var j = i + 1
        while true {
            let t = terminal[Int(node)]
            if t >= 0 { best = (t, j) }
            if j >= end { break }
            let b = p[j]
            var next: Int32 = -1
            for e in children[Int(node)] where e.0 == b { next = e.1; break }
            if next < 0 { break }
            node = next
            j += 1
        }
        return best
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
