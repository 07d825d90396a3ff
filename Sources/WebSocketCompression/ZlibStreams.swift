import CZlib
import NIOCore
import WebSocketCore

/// A raw-deflate compressor (RFC 1951 without zlib header) keeping its window between
/// messages unless told to reset (context takeover, RFC 7692 §7.1.1).
final class Deflater {
    private var stream = z_stream()
    private var scratch = [UInt8](repeating: 0, count: 16 << 10)

    /// - Parameters: windowBits 9...15 (zlib cannot produce 8-bit raw windows), memLevel 1...9.
    init?(windowBits: Int, memLevel: Int, level: Int) {
        guard czlib_deflateInit2(&stream, Int32(level), -Int32(windowBits), Int32(memLevel)) == Z_OK else { return nil }
    }

    deinit { deflateEnd(&stream) }

    /// Compresses `input` with a sync flush and removes the `00 00 ff ff` tail (RFC 7692 §7.2.1).
    func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var output = allocator.buffer(capacity: input.readableBytes / 2 + 64)
        input.withUnsafeReadableBytes { src in
            stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: UInt8.self).baseAddress)
            stream.avail_in = UInt32(src.count)
            repeat {
                scratch.withUnsafeMutableBufferPointer { dst in
                    stream.next_out = dst.baseAddress
                    stream.avail_out = UInt32(dst.count)
                    _ = deflate(&stream, Z_SYNC_FLUSH)
                    output.writeBytes(UnsafeBufferPointer(rebasing: dst[..<(dst.count - Int(stream.avail_out))]))
                }
            } while stream.avail_out == 0
        }
        stream.next_in = nil
        if output.readableBytes >= 4, output.getBytes(at: output.writerIndex - 4, length: 4) == [0, 0, 0xFF, 0xFF] {
            output.moveWriterIndex(to: output.writerIndex - 4)
        }
        return output
    }

    func reset() { deflateReset(&stream) }
}

/// A raw-deflate decompressor with a bounded output.
final class Inflater {
    private var stream = z_stream()
    private static let tail: [UInt8] = [0, 0, 0xFF, 0xFF]

    init?(windowBits: Int) {
        guard czlib_inflateInit2(&stream, -Int32(windowBits)) == Z_OK else { return nil }
    }

    deinit { inflateEnd(&stream) }

    /// Inflates `input` (and the tail when `isFinal`) into `output`, 16 KiB at a time, failing
    /// as soon as the output would pass `limit`: a bomb costs at most one chunk past the limit.
    func decompress(_ input: ByteBuffer, isFinal: Bool, into output: inout ByteBuffer, limit: Int) throws(ProtocolViolation) {
        let cap = output.writerIndex + limit  // for the whole call: payload and tail together
        try feed(input.readableBytesView, into: &output, cap: cap, limit: limit)
        if isFinal { try feed(Self.tail[...], into: &output, cap: cap, limit: limit) }
        // The loop checks before each step; the last step may still have gone past the limit.
        if output.writerIndex > cap { throw .messageTooBig(limit: limit) }
    }

    private func feed(_ bytes: some Collection<UInt8>, into output: inout ByteBuffer, cap: Int, limit: Int) throws(ProtocolViolation) {
        let chunk = 16 << 10
        var failure: ProtocolViolation?
        let contiguous = bytes.withContiguousStorageIfAvailable { $0 } != nil ? nil : Array(bytes)
        func run(_ src: UnsafeBufferPointer<UInt8>) {
            stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
            stream.avail_in = UInt32(src.count)
            while true {
                if output.writerIndex > cap {
                    failure = .messageTooBig(limit: limit)
                    return
                }
                output.reserveCapacity(minimumWritableBytes: chunk)
                var status: Int32 = Z_OK
                var produced = 0
                let inputBefore = stream.avail_in
                output.withUnsafeMutableWritableBytes { dst in
                    stream.next_out = dst.bindMemory(to: UInt8.self).baseAddress
                    stream.avail_out = UInt32(min(dst.count, chunk))
                    let before = stream.avail_out
                    status = inflate(&stream, Z_SYNC_FLUSH)
                    produced = Int(before - stream.avail_out)
                }
                output.moveWriterIndex(forwardBy: produced)
                if status == Z_STREAM_END {
                    // A block with BFINAL set ended the stream (RFC 7692 §7.2.3.4): what follows
                    // (the appended tail) belongs to no stream; the next message starts afresh.
                    inflateReset(&stream)
                    return
                }
                if status == Z_BUF_ERROR && produced == 0 { return }  // all input consumed
                if status != Z_OK {
                    failure = .invalidCompressedData
                    return
                }
                if stream.avail_in == 0 && stream.avail_out > 0 { return }
                if produced == 0 && stream.avail_in == inputBefore { return }  // no progress: never spin
            }
        }
        if let contiguous {
            contiguous.withUnsafeBufferPointer(run)
        } else {
            _ = bytes.withContiguousStorageIfAvailable(run)
        }
        stream.next_in = nil
        if output.writerIndex > cap { failure = .messageTooBig(limit: limit) }
        if let failure { throw failure }
    }

    func reset() { inflateReset(&stream) }
}
