using System.Net.Sockets;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Runs a libc call on a socket's file descriptor while holding a reference to its handle, so the
/// descriptor cannot be closed and reused under the call (shared by <see cref="NativeBlocking"/>
/// and <see cref="EpollDetach"/>). False off Linux, on a closed socket, or without libc.
/// </summary>
internal static class SocketDescriptor
{
    public static bool TryUse(Socket socket, Func<int, bool> call)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
            return call((int)socket.SafeHandle.DangerousGetHandle());
        }
        catch (Exception ex) when (ex is ObjectDisposedException or DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                socket.SafeHandle.DangerousRelease();
            }
        }
    }
}
