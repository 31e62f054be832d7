using System.Net;
using System.Net.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>A local client of a forward whose target echoes: connect to a loopback port, send a text and read it back, each step within a bound.</summary>
internal static class LoopbackEcho
{
    /// <summary>Connects to <c>127.0.0.1:<paramref name="port"/></c> (a forward's local port).</summary>
    public static async Task<Socket> ConnectAsync(int port, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port).WaitAsync(timeout);
        return socket;
    }

    /// <summary>Sends <paramref name="text"/> and asserts that the same bytes come back before the relay closes.</summary>
    public static async Task RoundTripAsync(Socket socket, string text, TimeSpan timeout)
    {
        var sent = System.Text.Encoding.ASCII.GetBytes(text);
        await socket.SendAsync(sent.AsMemory()).AsTask().WaitAsync(timeout);
        var back = new byte[sent.Length];
        var got = 0;
        while (got < back.Length)
        {
            var n = await socket.ReceiveAsync(back.AsMemory(got)).AsTask().WaitAsync(timeout);
            Assert.True(n > 0, $"the relay closed before echoing '{text}'");
            got += n;
        }

        Assert.Equal(sent, back);
    }
}
