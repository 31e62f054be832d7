using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>An sshd that offers no AEAD cipher: AES-CTR with an encrypt-then-MAC HMAC only.</summary>
public sealed class CtrOnlySshdFixture() : SshdFixture(["Ciphers aes128-ctr", "MACs hmac-sha2-256-etm@openssh.com"]);

/// <summary>
/// With a cipher that encrypts the packet length (anything but AES-GCM here), whether the next
/// message is already read cannot be told (<see cref="ReceivedAhead"/>): every data message is
/// then written as it comes, as before held writes, and the stream is still whole and in order.
/// In the process-wide collection: the relay counters count every channel of the process.
/// </summary>
[Collection(MeterCollection.Name)]
public sealed class NonGcmHeldWritesTests(CtrOnlySshdFixture sshd, ITestOutputHelper output) : IClassFixture<CtrOnlySshdFixture>
{
    private const int Frames = 20_000;
    private const int FrameSize = 64;
    private static readonly TimeSpan Functional = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task With_aes128_ctr_every_data_message_is_written_as_it_comes_and_the_stream_is_whole()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        Assert.Equal("aes128-ctr + hmac-sha2-256-etm@openssh.com", session.NegotiatedCipher);
        Assert.False(ReceivedAhead.NextMessageBuffered(session.Mux!.SshNetSession));
        using var forward = session.OpenLocalForward(new TcpEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port));

        var result = await Counted.SendFramesDownAsync(listener, forward.LocalPort, Frames, FrameSize, Functional);
        var messages = result[RelayCounter.DataReceived];
        var writes = result[RelayCounter.LocalWrites];
        output.WriteLine($"{session.NegotiatedCipher}: {result.Received} B, {messages} SSH data messages, {writes} local writes, {result[RelayCounter.QuickAcks]} TCP_QUICKACKs");
        Assert.Equal(-1, result.FirstBad);
        Assert.Equal((long)Frames * FrameSize, result.Received);
        Assert.True(messages > 0);

        // Per message: at least one write for each (more only when the local socket was full).
        Assert.True(writes >= messages, $"{writes} local writes for {messages} SSH data messages: data was held past the end of its message");
    }
}
