// swift-tools-version: 6.1
//
// swift-websockets' rooms across server nodes over PostgreSQL (LISTEN/NOTIFY, postgres-nio),
// and ClusterChat, the example that runs them. Its own package, so that the main build stays
// free of it; it depends on the main package by path.
import PackageDescription

let package = Package(
    name: "swift-websockets-postgres-broadcast",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PostgresBroadcast", targets: ["PostgresBroadcast"]),
        .executable(name: "ClusterChat", targets: ["ClusterChat"]),
    ],
    dependencies: [
        .package(name: "swift-websockets", path: "../.."),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "PostgresBroadcast",
            dependencies: [
                .product(name: "WebSockets", package: "swift-websockets"),
                .product(name: "WebSocketCore", package: "swift-websockets"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
        .executableTarget(
            name: "ClusterChat",
            dependencies: [
                "PostgresBroadcast",
                .product(name: "WebSockets", package: "swift-websockets"),
                .product(name: "WebSocketCore", package: "swift-websockets"),
                .product(name: "WebSocketLogging", package: "swift-websockets"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
        // The main package's test support (scripts, peers), reached through the symbolic link Tests/TestSupport.
        .target(name: "WebSocketTestSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        .testTarget(
            name: "PostgresBroadcastTests",
            dependencies: [
                "PostgresBroadcast", "WebSocketTestSupport",
                .product(name: "WebSockets", package: "swift-websockets"),
                .product(name: "WebSocketCore", package: "swift-websockets"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
