import Crypto
import ExtrasBase64

/// The `Sec-WebSocket-Key` / `Sec-WebSocket-Accept` computations of RFC 6455 §4.2.2 and §4.1.
public enum AcceptKey {
    /// The GUID that §1.3 appends to the key before hashing.
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `base64(SHA-1(key + GUID))`: the value a server returns in `Sec-WebSocket-Accept`.
    ///
    /// RFC 6455 §1.3's example: the key `dGhlIHNhbXBsZSBub25jZQ==` gives
    /// `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
    public static func acceptValue(forKey key: some StringProtocol) -> String {
        var sha = Insecure.SHA1()
        sha.update(data: Array((key + guid).utf8))
        return Base64.encodeToString(bytes: Array(sha.finalize()))
    }

    /// A new random key: base64 of 16 random bytes (§4.1: "randomly selected").
    public static func randomKey(using generator: inout some RandomNumberGenerator) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in stride(from: 0, to: 16, by: 8) {
            let v = generator.next() as UInt64
            for j in 0..<8 { bytes[i + j] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(j))) }
        }
        return Base64.encodeToString(bytes: bytes)
    }

    /// Whether `key` is a valid `Sec-WebSocket-Key`: base64 that decodes to exactly 16 bytes.
    public static func isValidKey(_ key: some StringProtocol) -> Bool {
        guard key.utf8.count == 24, let bytes = try? Base64.decode(string: String(key)) else { return false }
        return bytes.count == 16
    }
}
