/// Byte-exact WebSocket input for scripted peers and engine tests.

/// An opening handshake request as a raw client sends it (RFC 6455 §1.3's sample key), for
/// `path`, with `extraHeaders` (each ending in CRLF) before the empty line.
public func upgradeRequest(path: String = "/echo", extraHeaders: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extraHeaders + "\r\n"
}

/// Builds a raw frame byte by byte, including illegal ones (reserved bits, non-minimal or
/// top-bit lengths), which the encoder cannot produce.
public func rawFrame(fin: Bool = true, rsv: UInt8 = 0, opcode: UInt8, mask: [UInt8]? = nil,
                     payload: [UInt8] = [], declaredLength: UInt64? = nil, lengthForm: Int? = nil) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
    let length = declaredLength ?? UInt64(payload.count)
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    let form = lengthForm ?? (length <= 125 ? 7 : (length <= 0xFFFF ? 16 : 64))
    switch form {
    case 7: out.append(maskBit | UInt8(length))
    case 16: out.append(maskBit | 126); out += withUnsafeBytes(of: UInt16(length).bigEndian, Array.init)
    default: out.append(maskBit | 127); out += withUnsafeBytes(of: length.bigEndian, Array.init)
    }
    if let mask {
        out += mask
        out += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    } else {
        out += payload
    }
    return out
}

/// A frame as a client sends it to a server: masked with a fixed key.
public func clientFrame(fin: Bool = true, rsv: UInt8 = 0, opcode: UInt8, payload: [UInt8] = []) -> [UInt8] {
    rawFrame(fin: fin, rsv: rsv, opcode: opcode, mask: [0x0A, 0xB1, 0x5C, 0xE3], payload: payload)
}
