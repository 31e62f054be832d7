using System.Text;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

namespace ZmqAspire.AppHost.Tests;

/// <summary>
/// One request from this process through the fixture's bastion to the server, with the
/// bastion → server leg (the one SSH does not protect) captured on the container network.
/// </summary>
internal static class ServerLeg
{
    /// <summary>The reply text of the AppHost's server.</summary>
    public const string ReplyText = "World from 5556";

    /// <summary>A CurveZMQ MESSAGE command's name as it goes on the wire (RFC 26: a length byte, then the name).</summary>
    private static readonly byte[] CurveMessageCommand = [7, .. "MESSAGE"u8];

    /// <summary>Sends a request whose body is unique and returns what the capture saw.</summary>
    /// <param name="fixture">The running AppHost.</param>
    /// <param name="curveServerKey">The server's CURVE public key to use, or null for plaintext.</param>
    public static async Task<Result> SendCapturedAsync(AppHostFixture fixture, string? curveServerKey)
    {
        var bastion = await fixture.ContainerIdAsync("bastion");
        var server = await fixture.ContainerIdAsync("server");
        await using var capture = await PacketCapture.StartAsync(bastion, server, 5556);

        var probe = $"capture-probe-{Guid.NewGuid():N}";
        await using var session = await SshTunnelSession.ConnectAsync(fixture.BastionOptions());
        using var forward = session.OpenLocalForward(TcpEndpoint.Parse("tcp://server:5556"));
        string reply;
        using (var requester = new ZmqRequester(new ZmqRequesterOptions
        {
            Endpoint = forward.LocalEndpoint.ToString(),
            CurveServerKey = curveServerKey,
            RequestTimeout = TimeSpan.FromSeconds(30),
            MaxRetries = 0,
        }))
        {
            reply = requester.Send(probe, 0).BodyText;
        }

        // The reply reached us, so it crossed the captured leg: wait until tshark has printed it
        // (its text in plaintext, a MESSAGE command from the server with CURVE).
        var complete = await capture.WaitForAsync(
            connections => connections.Any(c => c.Mechanism is not null && (c.Contains(ReplyText) || c.Received.AsSpan().IndexOf(CurveMessageCommand) >= 0)),
            TimeSpan.FromSeconds(30));

        // Only connections opened while capturing (they start with a ZMTP greeting): ours, not
        // the AppHost client's, which connected earlier.
        return new Result(probe, reply, complete, capture.Connections().Where(c => c.Mechanism is not null).ToList());
    }

    /// <summary>What one captured exchange showed.</summary>
    /// <param name="Probe">The request body sent.</param>
    /// <param name="Reply">The reply body received.</param>
    /// <param name="Complete">Whether the capture holds the reply.</param>
    /// <param name="Connections">The connections from the bastion to the server opened during the capture.</param>
    public sealed record Result(string Probe, string Reply, bool Complete, IReadOnlyList<PacketCapture.Connection> Connections)
    {
        /// <summary>Tells whether any captured connection carries <paramref name="text"/> in plaintext.</summary>
        public bool Shows(string text) => Connections.Any(c => c.Contains(text));

        /// <summary>Tells whether the server sent a CurveZMQ MESSAGE command (an encrypted frame) on a captured connection.</summary>
        public bool ShowsCurveMessages => Connections.Any(c => c.Received.AsSpan().IndexOf(CurveMessageCommand) >= 0 && c.Sent.AsSpan().IndexOf(CurveMessageCommand) >= 0);

        /// <summary>Describes the capture for a failure message.</summary>
        public override string ToString() => string.Join('\n', Connections.Select(c =>
            $"{c.Mechanism}: sent {c.Sent.Length} bytes [{Printable(c.Sent)}], received {c.Received.Length} bytes [{Printable(c.Received)}]"));

        private static string Printable(byte[] bytes) =>
            new(Encoding.ASCII.GetString(bytes).Select(ch => ch is >= ' ' and <= '~' ? ch : '.').ToArray());
    }
}
