import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import WebSockets

/// The server's ``FreedMemoryPolicy``: what glibc keeps after a burst is given back.
@Suite("Freed memory returned to the system", .serialized)
struct FreedMemoryTests {
    /// This process's resident memory, MiB.
    static func residentMiB() -> Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
    }

    /// 120 MiB in 40 KiB blocks (what connections' buffers and zlib states look like to the
    /// allocator: below its mmap threshold, so freed into its arenas), touched, then freed; a
    /// small block allocated after each stays (as long-lived connections' would), so the
    /// allocator cannot shrink its heap from the top. `Unpinned` deallocates those.
    static func burst() -> Unpinned {
        var pins: [UnsafeMutableRawPointer] = []
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<3072 {
            let block = UnsafeMutableRawPointer.allocate(byteCount: 40 << 10, alignment: 16)
            block.initializeMemory(as: UInt8.self, repeating: 0x5A, count: 40 << 10)
            blocks.append(block)
            pins.append(UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 16))
        }
        for block in blocks { block.deallocate() }
        return Unpinned(pins: pins)
    }

    struct Unpinned {
        let pins: [UnsafeMutableRawPointer]
        func deallocate() { for pin in pins { pin.deallocate() } }
    }

    @Test("after a burst freed 120 MiB, the allocator keeps it resident; returning it gives most back, and nothing is done below the threshold")
    func returnsFreePages() throws {
        #if os(Linux)
        let pin = Self.burst()
        defer { pin.deallocate() }
        let kept = Self.residentMiB()
        #expect(FreedMemory.returnFreePages(above: Int.max) == nil, "nothing above an unreachable threshold")
        let returned = try #require(FreedMemory.returnFreePages(above: 8 << 20), "more than 8 MiB lay free")
        let after = Self.residentMiB()
        #expect(kept - after > 50, "resident \(kept) MiB before, \(after) MiB after (arena \(returned.before >> 20) → \(returned.after >> 20) MiB)")
        #endif
    }

    @Test("a burst of closes schedules one check, a second later, off the event loops; .keep schedules none")
    func scheduledAfterCloses() async throws {
        let checks = NIOLockedValueBox<[Int]>([])
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let freed = FreedMemory(delay: .milliseconds(200)) { above in
            #expect(!loop.inEventLoop)
            checks.withLockedValue { $0.append(above) }
        }
        freed.connectionClosed(.keep, on: loop)
        #expect(!freed.isPending)
        for _ in 0..<100 { freed.connectionClosed(.returnToSystem(above: 1234), on: loop) }
        #expect(freed.isPending, "one check pending for the whole burst")
        for _ in 0..<50 where freed.isPending { try await Task.sleep(for: .milliseconds(100)) }  // bounded: 5 s
        #expect(!freed.isPending && checks.withLockedValue { $0 } == [1234])
        freed.connectionClosed(.returnToSystem(above: 1234), on: loop)
        for _ in 0..<50 where freed.isPending { try await Task.sleep(for: .milliseconds(100)) }
        #expect(checks.withLockedValue { $0 } == [1234, 1234], "a later close schedules the next check")
    }
}
