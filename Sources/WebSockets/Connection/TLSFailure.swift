import NIOSSL
import WebSocketCore

/// A TLS handshake failure in words: BoringSSL's reason (`CERTIFICATE_VERIFY_FAILED`), without
/// its error codes and the build paths of the C sources that NIOSSL's descriptions carry, and
/// what it means for the side that saw it.
struct TLSFailure: Hashable, Sendable, CustomStringConvertible {
    /// BoringSSL's reason token, lowercased with spaces (`certificate verify failed`), or NIOSSL's case name.
    var reason: String
    /// What it usually means, when known.
    var meaning: String?

    var description: String { meaning.map { "\(reason) (\($0))" } ?? reason }

    /// `nil` for an error that is not a TLS handshake failure.
    init?(_ error: any Error, role: Role) {
        guard let ssl = error as? NIOSSLError else { return nil }
        switch ssl {
        case .handshakeFailed(let boring):
            let token = Self.reasonToken(String(describing: boring))
            reason = token.map { String($0.lowercased().map { $0 == "_" ? " " : $0 }) } ?? "handshake failed"
            meaning = token.flatMap { Self.meaning(of: $0, role: role) }
        case .uncleanShutdown:
            reason = "TCP connection closed without a TLS close_notify"
            meaning = role == .client ? "the server may not speak TLS on this port, or refused the client" : nil
        default:
            reason = "\(ssl)"
            meaning = nil
        }
    }

    /// The first reason in an error stack's description (`error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /…/handshake.cc:393`).
    static func reasonToken(_ description: String) -> String? {
        guard let range = description.firstRange(of: "OPENSSL_internal:") else { return nil }
        let token = description[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return token.isEmpty ? nil : String(token)
    }

    private static func meaning(of token: String, role: Role) -> String? {
        switch token {
        case "CERTIFICATE_VERIFY_FAILED":
            role == .client ? "the server's certificate is not trusted" : "the client's certificate is not trusted"
        case "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "SSLV3_ALERT_BAD_CERTIFICATE":
            role == .server ? "the client does not trust this server's certificate" : "the server does not accept the client's certificate"
        case "WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL":
            role == .server ? "not TLS: a plain ws:// or HTTP client on a wss:// port" : "the server does not speak TLS on this port: use ws://"
        case "NO_SHARED_CIPHER", "UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION":
            "no TLS version or cipher in common"
        default:
            nil
        }
    }
}
