using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Linux: takes the SSH session's socket out of .NET's socket event loop (its epoll instance),
/// so that a message from the server wakes only SSH.NET's receive thread, not also .NET's event thread.
/// </summary>
/// <remarks>
/// <para>
/// Why: SSH.NET connects and exchanges versions asynchronously, which registers the socket with
/// .NET's epoll thread (edge-triggered, read and write) for the rest of its life, although
/// SSH.NET 2026.0 reads it synchronously afterwards (and <see cref="NativeBlocking"/> makes those
/// reads block in the kernel). Every arrival then also wakes that thread, which finds no
/// operation waiting. Measured with the benchmark's profile (<c>ZMQASPIRE_BENCH_PROFILE=1</c>,
/// schedstat): 0.87 extra wake-ups of ".NET Sockets" per 64 B round trip, and about 0.7 per SSH
/// data message received in a 64 B DEALER↔ROUTER stream; on two busy cores that thread competes
/// with the receive thread for the very moment the reply arrives.
/// </para>
/// <para>
/// How: the epoll instances of the process are found in <c>/proc/self/fd</c> (links to
/// <c>anon_inode:[eventpoll]</c>); the one whose <c>/proc/self/fdinfo</c> lists our descriptor
/// (<c>tfd</c>, and the socket's inode) gets <c>EPOLL_CTL_DEL</c>. Only Linux interfaces, no
/// reflection into .NET. Safe only while nothing asynchronous is ever issued on the socket
/// again and no operation is waiting for .NET's event thread at that moment (it would wait for
/// an event that no longer comes): the socket must be in blocking mode already
/// (<see cref="NativeBlocking"/>, under the condition <see cref="NativeBlocking.VerifiedFor"/>
/// checks for SSH.NET), and <see cref="QuickAck"/> calls this on SSH.NET's receive thread,
/// between two reads. Closing the socket needs no event.
/// </para>
/// </remarks>
internal static class EpollDetach
{
    private const int EpollCtlDel = 2;

    /// <summary>Removes <paramref name="socket"/> from every epoll instance of this process that watches it; true if one did.</summary>
    public static bool TryDetach(Socket socket) => SocketDescriptor.TryUse(socket, fd =>
    {
        try
        {
            var inode = SocketInode(fd);
            if (inode is null)
            {
                return false;
            }

            var detached = false;
            foreach (var epoll in EpollDescriptors())
            {
                if (Watches(epoll, fd, inode.Value) && epoll_ctl(epoll, EpollCtlDel, fd, IntPtr.Zero) == 0)
                {
                    detached = true;
                }
            }

            return detached;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // /proc unreadable: leave the socket where it is.
            return false;
        }
    });

    /// <summary>Gets a value indicating whether an epoll instance of this process watches <paramref name="socket"/> (for tests).</summary>
    internal static bool IsWatched(Socket socket)
    {
        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        return SocketInode(fd) is { } inode && EpollDescriptors().Any(epoll => Watches(epoll, fd, inode));
    }

    /// <summary>The inode of a socket descriptor, from its /proc/self/fd link <c>socket:[INODE]</c>.</summary>
    private static ulong? SocketInode(int fd)
    {
        var target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        return target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)
            && ulong.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
            ? inode
            : null;
    }

    private static IEnumerable<int> EpollDescriptors()
    {
        foreach (var path in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(path).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }

            if (target == "anon_inode:[eventpoll]" && int.TryParse(Path.GetFileName(path), NumberStyles.None, CultureInfo.InvariantCulture, out var fd))
            {
                yield return fd;
            }
        }
    }

    /// <summary>Whether the epoll instance lists the descriptor: a line "tfd: FD events: ... ino:HEX ..." in its fdinfo.</summary>
    private static bool Watches(int epoll, int fd, ulong inode)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/self/fdinfo/{epoll}");
        }
        catch (IOException)
        {
            return false;
        }

        foreach (var line in lines)
        {
            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields is ["tfd:", var tfd, ..] && int.TryParse(tfd, NumberStyles.None, CultureInfo.InvariantCulture, out var watched) && watched == fd
                && fields.FirstOrDefault(f => f.StartsWith("ino:", StringComparison.Ordinal)) is { } ino
                && ulong.TryParse(ino.AsSpan(4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var watchedInode)
                && watchedInode == inode)
            {
                return true;
            }
        }

        return false;
    }

#pragma warning disable SA1300, IDE1006 // libc's name
    [DllImport("libc", SetLastError = true)]
    private static extern int epoll_ctl(int epfd, int op, int fd, IntPtr eventPointer);
#pragma warning restore SA1300, IDE1006
}
