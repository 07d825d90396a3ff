import NIOCore
import NIOPosix
import Synchronization
#if canImport(CMalloc) && os(Linux)
import CMalloc
#endif

/// What a server does with the memory its closed connections freed. glibc's allocator keeps
/// freed memory in its arenas for reuse: after a burst (2,000 permessage-deflate connections
/// opened and closed) the process stayed 90 MiB above where it started, although nothing was
/// in use. `malloc_trim` gives those pages back.
public enum FreedMemoryPolicy: Sendable, Hashable {
    /// Keep it for the allocator to reuse (glibc's default behaviour).
    case keep
    /// A second after connections closed (at most once a second, on NIO's blocking thread pool,
    /// never on an event loop), if more than `above` bytes lie free in the allocator's arenas,
    /// return the free pages to the system (`malloc_trim`). glibc only; elsewhere the same as `.keep`.
    case returnToSystem(above: Int)

    /// Return it once more than 8 MiB lie free.
    public static let `default` = FreedMemoryPolicy.returnToSystem(above: 8 << 20)
}

/// The check after connections close: one pending at a time, so a close costs an atomic
/// load while one is. The allocator is the process's: servers share ``shared``.
final class FreedMemory: Sendable {
    static let shared = FreedMemory(delay: .seconds(1)) { above in returnFreePages(above: above) }

    private let pending = Atomic<Bool>(false)
    private let delay: TimeAmount
    private let check: @Sendable (Int) -> Void

    init(delay: TimeAmount, check: @escaping @Sendable (_ above: Int) -> Void) {
        self.delay = delay
        self.check = check
    }

    /// Whether a check is scheduled.
    var isPending: Bool { pending.load(ordering: .relaxed) }

    /// A connection closed on `eventLoop`: schedules the check unless one is pending.
    static func connectionClosed(_ policy: FreedMemoryPolicy, on eventLoop: any EventLoop) {
        #if canImport(CMalloc) && os(Linux)
        shared.connectionClosed(policy, on: eventLoop)
        #endif
    }

    func connectionClosed(_ policy: FreedMemoryPolicy, on eventLoop: any EventLoop) {
        guard case .returnToSystem(let above) = policy, !pending.load(ordering: .relaxed),
              pending.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        eventLoop.scheduleTask(in: delay) {
            NIOThreadPool.singleton.submit { _ in
                self.check(above)
                self.pending.store(false, ordering: .relaxed)
            }
        }
    }

    /// Returns the arenas' free pages to the system if more than `above` bytes are free; the
    /// bytes in the arenas before and after, or `nil` when nothing was done.
    @discardableResult
    static func returnFreePages(above: Int) -> (before: Int, after: Int)? {
        #if canImport(CMalloc) && os(Linux)
        let before = mallinfo2()
        guard Int(before.fordblks) > above else { return nil }
        malloc_trim(0)
        return (Int(before.arena), Int(mallinfo2().arena))
        #else
        return nil
        #endif
    }
}
