using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>One end of a relayed connection that streams: uploads until stopped, or reads until the connection ends.</summary>
internal static class StreamingPeer
{
    /// <summary>Sends 64 KiB chunks until <paramref name="stop"/> or until the relay closes; tells <paramref name="sent"/> each chunk's bytes.</summary>
    public static async Task UploadAsync(Socket socket, Action<int> sent, CancellationToken stop)
    {
        var chunk = new byte[64 * 1024];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                sent(await socket.SendAsync(chunk, SocketFlags.None, stop));
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The relay closed, or the test ended.
        }
    }

    /// <summary>Reads until the connection ends: true for an end of stream, false for a reset.</summary>
    public static async Task<bool> DrainUntilEndAsync(Socket socket)
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
