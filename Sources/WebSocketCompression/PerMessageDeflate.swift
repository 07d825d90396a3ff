import NIOCore
import WebSocketCore

/// permessage-deflate settings (RFC 7692), with Python websockets' defaults: max window bits
/// 12 both ways, memLevel 5, compression level 6, messages under 128 bytes sent uncompressed.
///
/// Memory per connection with the defaults: the deflater ≈ (1 << (12 + 2)) + (1 << (5 + 9))
/// = 32 KiB plus ~6 KiB of state, the inflater ≈ 4 KiB window plus ~7 KiB of state: about
/// 50 KiB. With window bits 15 and memLevel 8 (zlib's defaults) it is about 300 KiB.
public struct PerMessageDeflateConfiguration: Sendable, Hashable {
    /// The largest LZ77 window this side compresses with (9...15 — zlib cannot write 8-bit windows).
    public var localMaxWindowBits: Int
    /// The largest window accepted from the peer (8...15).
    public var remoteMaxWindowBits: Int
    /// Reset the compression context after each message (costs ratio, saves memory state).
    public var localNoContextTakeover: Bool
    /// Ask the peer to reset its context after each message.
    public var remoteNoContextTakeover: Bool
    /// zlib memLevel 1...9.
    public var memLevel: Int
    /// zlib compression level 0...9.
    public var compressionLevel: Int
    /// Messages smaller than this go uncompressed.
    public var minimumSizeToCompress: Int

    /// Creates a configuration; each parameter sets the property of the same name. Traps on window bits or zlib settings out of range.
    public init(localMaxWindowBits: Int = 12, remoteMaxWindowBits: Int = 12, localNoContextTakeover: Bool = false,
                remoteNoContextTakeover: Bool = false, memLevel: Int = 5, compressionLevel: Int = 6, minimumSizeToCompress: Int = 128) {
        precondition((9...15).contains(localMaxWindowBits) && (8...15).contains(remoteMaxWindowBits), "window bits out of range")
        precondition((1...9).contains(memLevel) && (0...9).contains(compressionLevel), "zlib settings out of range")
        self.localMaxWindowBits = localMaxWindowBits
        self.remoteMaxWindowBits = remoteMaxWindowBits
        self.localNoContextTakeover = localNoContextTakeover
        self.remoteNoContextTakeover = remoteNoContextTakeover
        self.memLevel = memLevel
        self.compressionLevel = compressionLevel
        self.minimumSizeToCompress = minimumSizeToCompress
    }
}

/// The negotiated parameters of one connection, named by side (`local` = this endpoint).
public struct PerMessageDeflateParameters: Sendable, Hashable {
    /// The window this endpoint compresses with.
    public var localMaxWindowBits: Int
    /// The window the peer compresses with (and this endpoint inflates with).
    public var remoteMaxWindowBits: Int
    /// This endpoint resets its compression context after each message.
    public var localNoContextTakeover: Bool
    /// The peer resets its compression context after each message.
    public var remoteNoContextTakeover: Bool
}

/// Why a `permessage-deflate` offer or response is unacceptable.
public struct PerMessageDeflateError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with the offer or response, in words.
    public var message: String
    /// Creates an error with its explanation.
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// permessage-deflate for one connection: negotiation (header in, header out) and the
/// message transform plugged into ``WebSocketEngine/compression``.
public final class PerMessageDeflate: MessageCompression, @unchecked Sendable {
    // @unchecked: the zlib streams are used only by the engine that owns this object, on its
    // connection's event loop.
    /// The parameters both sides agreed on.
    public let parameters: PerMessageDeflateParameters
    /// The `Sec-WebSocket-Extensions` value that states them (sent by a server, checked by a client).
    public let negotiatedHeader: String
    private let configuration: PerMessageDeflateConfiguration
    private let deflater: Deflater
    private let inflater: Inflater
    private let allocator = ByteBufferAllocator()

    init?(parameters: PerMessageDeflateParameters, header: String, configuration: PerMessageDeflateConfiguration) {
        guard let d = Deflater(windowBits: max(9, parameters.localMaxWindowBits), memLevel: configuration.memLevel,
                               level: configuration.compressionLevel),
              let i = Inflater(windowBits: parameters.remoteMaxWindowBits) else { return nil }
        self.parameters = parameters
        self.negotiatedHeader = header
        self.configuration = configuration
        self.deflater = d
        self.inflater = i
    }

    /// Compresses one whole message; `nil` when it is below ``PerMessageDeflateConfiguration/minimumSizeToCompress`` and goes uncompressed.
    public func compress(_ payload: ByteBuffer) -> ByteBuffer? {
        guard payload.readableBytes >= configuration.minimumSizeToCompress else { return nil }
        let compressed = deflater.compress(payload, allocator: allocator)
        if parameters.localNoContextTakeover { deflater.reset() }
        return compressed
    }

    /// Inflates one frame's payload into `output`, appending the RFC 7692 tail when `isFinal`; throws once `output` would exceed `limit` bytes (a zip bomb is stopped while it inflates) or on a corrupt stream.
    public func decompress(_ payload: ByteBuffer, isFinal: Bool, into output: inout ByteBuffer, limit: Int) throws(ProtocolViolation) {
        try inflater.decompress(payload, isFinal: isFinal, into: &output, limit: limit)
        if isFinal && parameters.remoteNoContextTakeover { inflater.reset() }
    }

    // MARK: - Negotiation (RFC 7692 §7)

    /// Parsed parameters of one offer or response; `nil` values are absent, `.some(nil)` present without value.
    struct Params {
        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        var serverMaxWindowBits: Int?
        var clientMaxWindowBits: Int??

        init(_ offer: ExtensionOffer) throws(PerMessageDeflateError) {
            var seen = Set<String>()
            for (name, value) in offer.parameters {
                let key = name.lowercased()
                guard seen.insert(key).inserted else { throw .init(message: "duplicate parameter \(name)") }
                switch key {
                case "server_no_context_takeover":
                    guard value == nil else { throw .init(message: "server_no_context_takeover takes no value") }
                    serverNoContextTakeover = true
                case "client_no_context_takeover":
                    guard value == nil else { throw .init(message: "client_no_context_takeover takes no value") }
                    clientNoContextTakeover = true
                case "server_max_window_bits":
                    guard let v = value, let bits = Params.bits(v) else { throw .init(message: "invalid server_max_window_bits") }
                    serverMaxWindowBits = bits
                case "client_max_window_bits":
                    if let v = value {
                        guard let bits = Params.bits(v) else { throw .init(message: "invalid client_max_window_bits") }
                        clientMaxWindowBits = .some(bits)
                    } else {
                        clientMaxWindowBits = .some(nil)
                    }
                default:
                    throw .init(message: "unknown parameter \(name)")
                }
            }
        }

        /// 8...15 written as plain decimal (no sign, no leading zero).
        static func bits(_ text: String) -> Int? {
            guard (1...2).contains(text.count), text.allSatisfy(\.isNumber), text.first != "0", let v = Int(text), (8...15).contains(v) else {
                return nil
            }
            return v
        }
    }

    /// Server: accepts the first acceptable `permessage-deflate` offer (RFC 7692 §5.1), or
    /// returns `nil` when there is none (the connection then runs uncompressed). Offers with
    /// invalid or duplicate parameters are declined, as is `server_max_window_bits=8` (zlib
    /// cannot compress with an 8-bit window; the RFC lets a server decline what it cannot do).
    public static func accept(offers: [ExtensionOffer], configuration: PerMessageDeflateConfiguration) -> PerMessageDeflate? {
        for offer in offers where offer.name.lowercased() == "permessage-deflate" {
            guard let params = try? Params(offer) else { continue }
            if let requested = params.serverMaxWindowBits, requested < 9 { continue }
            let serverBits = min(configuration.localMaxWindowBits, params.serverMaxWindowBits ?? 15)
            var response: [(name: String, value: String?)] = []
            let serverNoContext = params.serverNoContextTakeover || configuration.localNoContextTakeover
            let clientNoContext = params.clientNoContextTakeover || configuration.remoteNoContextTakeover
            if serverNoContext { response.append(("server_no_context_takeover", nil)) }
            if clientNoContext { response.append(("client_no_context_takeover", nil)) }
            if serverBits < 15 || params.serverMaxWindowBits != nil { response.append(("server_max_window_bits", String(serverBits))) }
            // §7.1.2.2: only when the client offered client_max_window_bits may the server limit it.
            var clientBits = 15
            if case .some(let offered) = params.clientMaxWindowBits {
                clientBits = min(configuration.remoteMaxWindowBits, offered ?? 15)
                if clientBits < 15 || offered != nil { response.append(("client_max_window_bits", String(clientBits))) }
            } else if configuration.remoteMaxWindowBits < 15 {
                clientBits = 15  // cannot ask a client that did not offer the parameter
            }
            let header = ExtensionOffer(name: "permessage-deflate", parameters: response).description
            let parameters = PerMessageDeflateParameters(localMaxWindowBits: serverBits, remoteMaxWindowBits: clientBits,
                                                         localNoContextTakeover: serverNoContext, remoteNoContextTakeover: clientNoContext)
            return PerMessageDeflate(parameters: parameters, header: header, configuration: configuration)
        }
        return nil
    }

    /// Client: the offer to send (`permessage-deflate; client_max_window_bits[=N]…`).
    public static func offer(configuration: PerMessageDeflateConfiguration) -> ExtensionOffer {
        var parameters: [(name: String, value: String?)] = []
        if configuration.remoteNoContextTakeover { parameters.append(("server_no_context_takeover", nil)) }
        if configuration.localNoContextTakeover { parameters.append(("client_no_context_takeover", nil)) }
        if configuration.remoteMaxWindowBits < 15 { parameters.append(("server_max_window_bits", String(configuration.remoteMaxWindowBits))) }
        parameters.append(("client_max_window_bits", configuration.localMaxWindowBits < 15 ? String(configuration.localMaxWindowBits) : nil))
        return ExtensionOffer(name: "permessage-deflate", parameters: parameters)
    }

    /// Client: validates the server's response to ``offer(configuration:)`` (RFC 7692 §7.1).
    /// - Throws: ``PerMessageDeflateError`` for anything the client did not allow; the client
    ///   must then fail the connection.
    public static func clientAccept(response: ExtensionOffer, configuration: PerMessageDeflateConfiguration) throws(PerMessageDeflateError) -> PerMessageDeflate {
        let params = try Params(response)
        let offeredServerBits = configuration.remoteMaxWindowBits < 15 ? configuration.remoteMaxWindowBits : 15
        let serverBits = params.serverMaxWindowBits ?? 15
        if serverBits > offeredServerBits { throw .init(message: "server_max_window_bits above the offered value") }
        if configuration.remoteNoContextTakeover && !params.serverNoContextTakeover {
            throw .init(message: "server_no_context_takeover was requested but not accepted")
        }
        var clientBits = configuration.localMaxWindowBits
        if case .some(let value) = params.clientMaxWindowBits {
            guard let value else { throw .init(message: "client_max_window_bits without a value in a response") }
            // §7.1.2.2: the server may ignore the value we offered, so a larger one is legal;
            // we compress with the smaller of the two. zlib cannot write 8-bit windows.
            if value < 9 { throw .init(message: "client_max_window_bits=8 cannot be honoured (zlib's smallest window is 9 bits)") }
            clientBits = min(clientBits, value)
        }
        let parameters = PerMessageDeflateParameters(localMaxWindowBits: clientBits, remoteMaxWindowBits: serverBits,
                                                     localNoContextTakeover: params.clientNoContextTakeover || configuration.localNoContextTakeover,
                                                     remoteNoContextTakeover: params.serverNoContextTakeover)
        guard let pmd = PerMessageDeflate(parameters: parameters, header: response.description, configuration: configuration) else {
            throw .init(message: "zlib could not be initialised")
        }
        return pmd
    }
}

/// The server-side negotiator to put in ``ServerHandshakeOptions/extensions``.
public struct PerMessageDeflateNegotiator: ExtensionNegotiator {
    /// The settings offers are judged and answered with.
    public var configuration: PerMessageDeflateConfiguration

    /// Creates a negotiator with these settings.
    public init(configuration: PerMessageDeflateConfiguration = .init()) {
        self.configuration = configuration
    }

    /// The server side: the compression of the first acceptable offer, or `nil` to decline them all.
    public func accept(offers: [ExtensionOffer]) -> (any MessageCompression)? {
        PerMessageDeflate.accept(offers: offers, configuration: configuration)
    }
}
