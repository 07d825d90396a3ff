// swift-tools-version: 6.1
//
// swift-websockets inside a Hummingbird 2 application: HTTP and WebSocket on one port, with this
// library's connections and log records. Its own package, so that the main build stays free of
// Hummingbird; it depends on the main package by path.
import PackageDescription

let package = Package(
    name: "swift-websockets-hummingbird",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HummingbirdWebSockets", targets: ["HummingbirdWebSockets"]),
        .executable(name: "HummingbirdExample", targets: ["HummingbirdExample"]),
    ],
    dependencies: [
        .package(name: "swift-websockets", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .target(
            name: "HummingbirdWebSockets",
            dependencies: [
                .product(name: "WebSockets", package: "swift-websockets"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .executableTarget(
            name: "HummingbirdExample",
            dependencies: [
                "HummingbirdWebSockets",
                .product(name: "WebSockets", package: "swift-websockets"),
                .product(name: "WebSocketLogging", package: "swift-websockets"),
                .product(name: "WebSocketCore", package: "swift-websockets"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The main package's test support (scripts, peers, nginx, schema validation), reached
        // through the symbolic link Tests/TestSupport.
        .target(name: "WebSocketTestSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        .testTarget(
            name: "HummingbirdWebSocketsTests",
            dependencies: ["HummingbirdWebSockets", "WebSocketTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
