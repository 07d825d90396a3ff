import NIOCore

/// A negotiated per-message compression extension (RFC 7692), plugged into the engine.
///
/// The engine calls it on the event loop of its connection only; implementations own zlib
/// streams and are therefore reference types, used by one engine at a time.
public protocol MessageCompression: AnyObject, Sendable {
    /// Compresses a whole message for sending (the `00 00 ff ff` tail removed), or returns
    /// `nil` to send it uncompressed (e.g. below a size threshold).
    func compress(_ payload: ByteBuffer) -> ByteBuffer?

    /// Inflates the payload of the next frame of a compressed message, appending to `output`
    /// no more than `limit` bytes. On the final frame the implementation appends the
    /// `00 00 ff ff` tail first (RFC 7692 §7.2.2).
    ///
    /// - Throws: ``ProtocolViolation/messageTooBig(limit:)`` as soon as the output would exceed
    ///   `limit` (a zip bomb is stopped after at most one chunk more), and
    ///   ``ProtocolViolation/invalidCompressedData`` for a corrupt stream.
    func decompress(_ payload: ByteBuffer, isFinal: Bool, into output: inout ByteBuffer, limit: Int) throws(ProtocolViolation)

    /// The `Sec-WebSocket-Extensions` value that was negotiated.
    var negotiatedHeader: String { get }
}

/// Negotiates a per-message compression extension on the server side of the handshake.
public protocol ExtensionNegotiator: Sendable {
    /// Picks from the client's offers (in order); `nil` declines them all.
    func accept(offers: [ExtensionOffer]) -> (any MessageCompression)?
}
