using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>One end of a relayed connection that streams: uploads until stopped, or reads until the connection ends.</summary>
internal static class StreamingPeer
{
    /// <summary>
    /// Connects <paramref name="count"/> clients to <c>127.0.0.1:<paramref name="port"/></c>, each
    /// uploading (<see cref="UploadAsync"/>) until <paramref name="stop"/>; returns the sockets and their uploads.
    /// </summary>
    public static async Task<(List<Socket> Sockets, List<Task> Uploads)> ConnectUploadersAsync(int port, int count, Action<int> sent, CancellationToken stop, TimeSpan timeout)
    {
        var sockets = new List<Socket>();
        var uploads = new List<Task>();
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, port).WaitAsync(timeout);
            sockets.Add(socket);
            uploads.Add(UploadAsync(socket, sent, stop));
        }

        return (sockets, uploads);
    }

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
