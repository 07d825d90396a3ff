#if canImport(Glibc)
import Glibc
#endif
import NIOSSL

extension OTLPLogExporter {
    /// Where and how records are exported.
    public struct Configuration: Sendable {
        /// The logs endpoint (default `http://localhost:4318/v1/logs`).
        public var endpoint: OTLPEndpoint
        /// Extra request headers (an API key).
        public var headers: [(String, String)]
        /// Resource attributes; `service.name` is always set (default `unknown_service:websockets`).
        public var resource: [String: String]
        /// Records kept while waiting for an export; beyond it records are dropped and counted.
        public var maxQueueSize: Int
        /// Records per request.
        public var maxBatchSize: Int
        /// The longest a record waits before it is exported.
        public var scheduleDelay: Duration
        /// How long an export may take in all (connects, sends, answers, retries and their
        /// waits) before its records count as failed.
        public var exportTimeout: Duration
        /// TLS for an `https` endpoint (the system's roots by default; a collector with a
        /// certificate of your own: `tls.trustRoots = .file("ca.pem")`, or
        /// `OTEL_EXPORTER_OTLP_CERTIFICATE`).
        public var tls: TLSConfiguration = .makeClientConfiguration()

        /// A configuration; each parameter sets the property of the same name.
        public init(endpoint: OTLPEndpoint = OTLPEndpoint("http://localhost:4318/v1/logs")!, headers: [(String, String)] = [],
                    resource: [String: String] = [:], maxQueueSize: Int = 4096, maxBatchSize: Int = 512,
                    scheduleDelay: Duration = .seconds(1), exportTimeout: Duration = .seconds(10)) {
            self.endpoint = endpoint
            self.headers = headers
            self.resource = resource
            self.maxQueueSize = max(1, maxQueueSize)
            self.maxBatchSize = max(1, maxBatchSize)
            self.scheduleDelay = scheduleDelay
            self.exportTimeout = exportTimeout
        }

        /// The configuration the standard OpenTelemetry variables describe:
        /// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/logs`),
        /// `OTEL_EXPORTER_OTLP_HEADERS`/`_LOGS_HEADERS`, `OTEL_EXPORTER_OTLP_PROTOCOL`
        /// (`http/protobuf` only), `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
        /// - Throws: ``OTLPConfigurationError`` naming the variable and what is wrong with it.
        public static func fromEnvironment(_ environment: [String: String] = currentEnvironment()) throws -> Configuration {
            var configuration = Configuration()
            if let proto = environment["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"] ?? environment["OTEL_EXPORTER_OTLP_PROTOCOL"],
               proto != "http/protobuf" {
                throw OTLPConfigurationError(variable: "OTEL_EXPORTER_OTLP_PROTOCOL", value: proto,
                                             problem: "only http/protobuf is supported")
            }
            if let url = environment["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] {
                guard let endpoint = OTLPEndpoint(url) else {
                    throw OTLPConfigurationError(variable: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", value: url, problem: "not an http(s) URL")
                }
                configuration.endpoint = endpoint
            } else if let base = environment["OTEL_EXPORTER_OTLP_ENDPOINT"] {
                // The signal's path goes after the base URL's own path (OTLP/HTTP exporter spec).
                let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
                guard let endpoint = OTLPEndpoint(trimmed + "/v1/logs") else {
                    throw OTLPConfigurationError(variable: "OTEL_EXPORTER_OTLP_ENDPOINT", value: base, problem: "not an http(s) URL")
                }
                configuration.endpoint = endpoint
            }
            // The signal's own variable overrides the general one key by key (the OTLP exporter spec).
            for variable in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS"] {
                guard let text = environment[variable] else { continue }
                for (key, value) in try Self.pairs(text, variable: variable, secret: true) {
                    if let index = configuration.headers.firstIndex(where: { $0.0.lowercased() == key.lowercased() }) {
                        configuration.headers[index] = (key, value)
                    } else {
                        configuration.headers.append((key, value))
                    }
                }
            }
            if let path = environment["OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE"] ?? environment["OTEL_EXPORTER_OTLP_CERTIFICATE"] {
                let variable = environment["OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE"] != nil ? "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE" : "OTEL_EXPORTER_OTLP_CERTIFICATE"
                guard (try? NIOSSLCertificate.fromPEMFile(path))?.isEmpty == false else {
                    throw OTLPConfigurationError(variable: variable, value: path, problem: "not a readable PEM certificate file")
                }
                configuration.tls.trustRoots = .file(path)
            }
            if let text = environment["OTEL_RESOURCE_ATTRIBUTES"] {
                for (key, value) in try Self.pairs(text, variable: "OTEL_RESOURCE_ATTRIBUTES") { configuration.resource[key] = value }
            }
            if let name = environment["OTEL_SERVICE_NAME"], !name.isEmpty { configuration.resource["service.name"] = name }
            return configuration
        }

        /// `k1=v1,k2=v2` with percent-encoded values (the W3C Baggage form the variables use).
        /// `secret`: the variable carries credentials (headers), so an error names the item by
        /// its position and never shows the value; a decoded CR, LF or NUL is refused.
        static func pairs(_ text: String, variable: String, secret: Bool = false) throws -> [(String, String)] {
            let shown = secret ? "(not shown: it may hold a secret)" : text
            return try text.split(separator: ",").enumerated().map { position, item in
                guard let eq = item.firstIndex(of: "="), item[..<eq].trimmingWhitespace() != "" else {
                    throw OTLPConfigurationError(variable: variable, value: shown,
                                                 problem: secret ? "item \(position + 1) is not key=value" : "'\(item)' is not key=value")
                }
                let key = item[..<eq].trimmingWhitespace()
                let value = item[item.index(after: eq)...].trimmingWhitespace().removingPercentEncodingOrSelf()
                if secret, value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) {
                    throw OTLPConfigurationError(variable: variable, value: shown,
                                                 problem: "the value of item \(position + 1) decodes to a CR, LF or NUL")
                }
                return (key, value)
            }
        }

        /// This process's environment.
        public static func currentEnvironment() -> [String: String] {
            var result: [String: String] = [:]
            var pointer = environ
            while let entry = pointer.pointee {
                let text = String(cString: entry)
                if let eq = text.firstIndex(of: "=") { result[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
                pointer += 1
            }
            return result
        }
    }
}

/// An OTLP setting from the environment that cannot be used, named with the reason.
public struct OTLPConfigurationError: Error, CustomStringConvertible, Sendable {
    /// The variable's name.
    public var variable: String
    /// Its value.
    public var value: String
    /// What is wrong with it.
    public var problem: String
    public var description: String { "\(variable)=\(value): \(problem)" }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    func removingPercentEncodingOrSelf() -> String {
        var bytes: [UInt8] = []
        var i = utf8.startIndex
        while i < utf8.endIndex {
            let b = utf8[i]
            // Two hex digits exactly: `UInt8("+a", radix: 16)` would read a sign.
            if b == UInt8(ascii: "%"), let h1 = utf8.index(i, offsetBy: 1, limitedBy: utf8.endIndex), h1 < utf8.endIndex,
               let h2 = utf8.index(i, offsetBy: 2, limitedBy: utf8.endIndex), h2 < utf8.endIndex,
               let high = Self.hexValue(utf8[h1]), let low = Self.hexValue(utf8[h2]) {
                bytes.append(high << 4 | low)
                i = utf8.index(i, offsetBy: 3)
            } else {
                bytes.append(b)
                i = utf8.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
