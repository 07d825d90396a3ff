// swift-tools-version: 6.1
//
// swift-websockets inside a Vapor 4 application: HTTP and WebSocket on one port, with this
// library's connections and log records. Its own package, so that the main build stays free of
// Vapor; it depends on the main package by path.
import PackageDescription

let package = Package(
    name: "swift-websockets-vapor",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "VaporWebSockets", targets: ["VaporWebSockets"]),
        .executable(name: "VaporExample", targets: ["VaporExample"]),
    ],
    dependencies: [
        .package(name: "swift-websockets", path: "../.."),
        .package(url: "https://github.com/vapor/vapor", from: "4.122.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "VaporWebSockets",
            dependencies: [
                .product(name: "WebSockets", package: "swift-websockets"),
                .product(name: "Vapor", package: "vapor"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "VaporExample",
            dependencies: [
                "VaporWebSockets",
                .product(name: "WebSockets", package: "swift-websockets"),
                .product(name: "WebSocketLogging", package: "swift-websockets"),
                .product(name: "WebSocketCore", package: "swift-websockets"),
                .product(name: "Vapor", package: "vapor"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The main package's test support (scripts, peers, nginx, schema validation), reached
        // through the symbolic link Tests/TestSupport.
        .target(name: "WebSocketTestSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        .testTarget(
            name: "VaporWebSocketsTests",
            dependencies: ["VaporWebSockets", "WebSocketTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
