using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The server's data for a channel is held until SSH.NET has handled the last message of its
/// read, then written to the local socket at once (<see cref="ReceivedAhead"/>,
/// <c>ChannelMux.Holding</c>): a burst of small messages arrives whole and in order, the EOF
/// after them, and the local socket gets no more writes than there were SSH data messages.
/// In the process-wide collection: the relay counters count every channel of the process.
/// </summary>
[Collection(MeterCollection.Name)]
public sealed class HeldWritesTests(SshdFixture sshd, ITestOutputHelper output)
{
    private const int Frames = 20_000;
    private const int FrameSize = 64;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(30);

    [Fact]
    public void SSH_NET_still_lets_us_see_whether_the_next_message_is_read()
    {
        // Fails on an SSH.NET whose receive buffer changed: the tunnel would then write per
        // message again (still correct), and this is where that is noticed.
        Assert.True(ReceivedAhead.Available);
    }

    [Fact]
    public async Task A_burst_of_small_frames_arrives_whole_in_order_and_before_the_eof()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        Assert.True(session.Mux?.HoldsData, "the session's channels do not hold data until the end of a read");
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port));

        var result = await Counted.SendFramesDownAsync(listener, forward.LocalPort, Frames, FrameSize, Functional);
        var messages = result[RelayCounter.DataReceived];
        var held = result[RelayCounter.Held];
        var writes = result[RelayCounter.LocalWrites];
        output.WriteLine($"{Frames} frames of {FrameSize} B: {messages} SSH data messages, {held} held, {writes} local writes, {result[RelayCounter.QuickAcks]} TCP_QUICKACKs");
        Assert.Equal(-1, result.FirstBad);
        Assert.Equal((long)Frames * FrameSize, result.Received);
        Assert.True(messages > 0);
        Assert.Equal(messages, held);
        Assert.True(writes <= messages, $"{writes} local writes for {messages} SSH data messages");
    }
}
