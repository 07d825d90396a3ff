import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A certificate authority made for one test, and a server certificate it signed for
/// 127.0.0.1: a client that trusts the CA (a browser given its NSS database, Python given
/// `cafile`) verifies the server as it would in production, no verification switched off.
public struct TestCA: Sendable {
    /// The CA's certificate (PEM): what the client trusts.
    public let caCertificate: String
    /// The server's certificate chain and key (PEM).
    public let certificate: String
    public let key: String
    let directory: String

    public init() async throws {
        directory = NSTemporaryDirectory() + "ws-ca-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        caCertificate = directory + "/ca.pem"
        certificate = directory + "/cert.pem"
        key = directory + "/key.pem"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try await Self.openssl(["req", "-x509"] + ec + ["-days", "1", "-subj", "/CN=swift-websockets test CA",
                               "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                               "-keyout", directory + "/ca-key.pem", "-out", caCertificate])
        try await Self.openssl(["req", "-new"] + ec + ["-subj", "/CN=127.0.0.1", "-keyout", key, "-out", directory + "/cert.csr"])
        let extensions = directory + "/cert.ext"
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        try await Self.openssl(["x509", "-req", "-in", directory + "/cert.csr", "-CA", caCertificate, "-CAkey", directory + "/ca-key.pem",
                                "-CAcreateserial", "-days", "1", "-extfile", extensions, "-out", certificate])
    }

    /// Removes the files.
    public func remove() { try? FileManager.default.removeItem(atPath: directory) }

    private static func openssl(_ arguments: [String]) async throws {
        let result = try await runCommand("/usr/bin/openssl", arguments)
        try #require(result.status == 0, "openssl \(arguments.first ?? ""): \(result.output)")
    }
}
