using NetMQ;
using NetMQ.Sockets;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>Client-side helpers for the REQ sockets the tests connect through tunnels.</summary>
internal static class Requests
{
    /// <summary>Generous: a reply through the tunnel normally takes milliseconds.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(20);

    public static RequestSocket NewRequestSocket()
    {
        var socket = new RequestSocket();
        socket.Options.Linger = TimeSpan.Zero;
        return socket;
    }

    /// <summary>Sends one frame and returns the single-frame reply; fails the test if none comes.</summary>
    public static string Ask(RequestSocket socket, string text, Func<string> diagnostics)
    {
        Assert.True(socket.TrySendFrame(ReplyTimeout, text), $"Could not send '{text}' within {ReplyTimeout}.{diagnostics()}");
        Assert.True(socket.TryReceiveFrameString(ReplyTimeout, out var reply), $"No reply to '{text}' within {ReplyTimeout}.{diagnostics()}");
        return reply!;
    }

    /// <summary>Sends a multipart message and returns the reply's frames.</summary>
    public static List<byte[]> AskMultipart(RequestSocket socket, IReadOnlyList<byte[]> frames, Func<string> diagnostics)
    {
        var message = new NetMQMessage();
        foreach (var frame in frames)
        {
            message.Append(frame);
        }

        Assert.True(socket.TrySendMultipartMessage(ReplyTimeout, message), $"Could not send within {ReplyTimeout}.{diagnostics()}");
        NetMQMessage? reply = null;
        Assert.True(socket.TryReceiveMultipartMessage(ReplyTimeout, ref reply), $"No reply within {ReplyTimeout}.{diagnostics()}");
        return [.. reply!.Select(f => f.ToByteArray())];
    }
}
