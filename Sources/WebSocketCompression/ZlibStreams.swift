import CZlib
import NIOCore
import WebSocketCore

/// A raw-deflate compressor (RFC 1951 without zlib header) keeping its window between
/// messages unless told to reset (context takeover, RFC 7692 §7.1.1).
final class Deflater {
    /// zlib's stream, at a fixed address of its own (zlib keeps a pointer back to it); reached
    /// through a pointer, so no exclusivity check per access as a class's `var` would need.
    private let stream: UnsafeMutablePointer<z_stream>

    /// - Parameters: windowBits 9...15 (zlib cannot produce 8-bit raw windows), memLevel 1...9.
    init?(windowBits: Int, memLevel: Int, level: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard czlib_deflateInit2(stream, Int32(level), -Int32(windowBits), Int32(memLevel)) == Z_OK else {
            stream.deallocate()
            return nil
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// Compresses `input` with a sync flush and removes the `00 00 ff ff` tail (RFC 7692 §7.2.1).
    /// zlib writes straight into the returned buffer, sized by `deflateBound` (it grows in the
    /// rare case a sync flush needs more).
    func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var output = allocator.buffer(capacity: Int(deflateBound(stream, UInt(input.readableBytes))) + 16)
        input.withUnsafeReadableBytes { src in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: UInt8.self).baseAddress)
            stream.pointee.avail_in = UInt32(src.count)
            repeat {
                output.reserveCapacity(minimumWritableBytes: 64)
                let produced = output.withUnsafeMutableWritableBytes { dst in
                    stream.pointee.next_out = dst.bindMemory(to: UInt8.self).baseAddress
                    stream.pointee.avail_out = UInt32(clamping: dst.count)
                    let before = stream.pointee.avail_out
                    _ = deflate(stream, Z_SYNC_FLUSH)
                    return Int(before - stream.pointee.avail_out)
                }
                output.moveWriterIndex(forwardBy: produced)
            } while stream.pointee.avail_out == 0
        }
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        if output.readableBytes >= 4, output.getInteger(at: output.writerIndex - 4, as: UInt32.self) == 0x0000_FFFF {
            output.moveWriterIndex(to: output.writerIndex - 4)
        }
        return output
    }

    func reset() { deflateReset(stream) }
}

/// A raw-deflate decompressor with a bounded output.
final class Inflater {
    /// zlib's stream, at a fixed address of its own (see ``Deflater``).
    private let stream: UnsafeMutablePointer<z_stream>
    private static let tail: [UInt8] = [0, 0, 0xFF, 0xFF]

    init?(windowBits: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard czlib_inflateInit2(stream, -Int32(windowBits)) == Z_OK else {
            stream.deallocate()
            return nil
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

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
        // The first reservation guesses from the input (text deflates 3–5×); later ones take a chunk.
        var want = min(chunk, max(256, bytes.count * 4 + 64))
        var failure: ProtocolViolation?
        let contiguous = bytes.withContiguousStorageIfAvailable { $0 } != nil ? nil : Array(bytes)
        func run(_ src: UnsafeBufferPointer<UInt8>) {
            stream.pointee.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
            stream.pointee.avail_in = UInt32(src.count)
            while true {
                if output.writerIndex > cap {
                    failure = .messageTooBig(limit: limit)
                    return
                }
                output.reserveCapacity(minimumWritableBytes: want)
                want = chunk
                var status: Int32 = Z_OK
                var produced = 0
                let inputBefore = stream.pointee.avail_in
                output.withUnsafeMutableWritableBytes { dst in
                    stream.pointee.next_out = dst.bindMemory(to: UInt8.self).baseAddress
                    stream.pointee.avail_out = UInt32(min(dst.count, chunk))
                    let before = stream.pointee.avail_out
                    status = inflate(stream, Z_SYNC_FLUSH)
                    produced = Int(before - stream.pointee.avail_out)
                }
                output.moveWriterIndex(forwardBy: produced)
                if status == Z_STREAM_END {
                    // A block with BFINAL set ended the stream (RFC 7692 §7.2.3.4): what follows
                    // (the appended tail) belongs to no stream; the next message starts afresh.
                    inflateReset(stream)
                    return
                }
                if status == Z_BUF_ERROR && produced == 0 { return }  // all input consumed
                if status != Z_OK {
                    failure = .invalidCompressedData
                    return
                }
                if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { return }
                if produced == 0 && stream.pointee.avail_in == inputBefore { return }  // no progress: never spin
            }
        }
        if let contiguous {
            contiguous.withUnsafeBufferPointer(run)
        } else {
            _ = bytes.withContiguousStorageIfAvailable(run)
        }
        stream.pointee.next_in = nil
        if output.writerIndex > cap { failure = .messageTooBig(limit: limit) }
        if let failure { throw failure }
    }

    func reset() { inflateReset(stream) }
}
