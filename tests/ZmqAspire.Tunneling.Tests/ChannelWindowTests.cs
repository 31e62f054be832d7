using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// <see cref="SshTunnelOptions.ChannelWindowSize"/>: the window our channels advertise for data
/// coming back from the server (RFC 4254 section 5.2), against a real sshd.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ChannelWindowTests(SshdFixture sshd, ITestOutputHelper output)
{
    [Theory]
    [InlineData(64 * 1024 - 1)]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1024 * 1024 * 1024 + 1)]
    public void A_window_outside_64_KiB_to_1_GiB_is_refused_before_connecting(int bytes)
    {
        var options = sshd.Options(ClientKey.Ed25519);
        options.ChannelWindowSize = bytes;
        var error = Assert.Throws<ArgumentException>(options.CheckBeforeConnecting);
        Assert.Equal(nameof(SshTunnelOptions.ChannelWindowSize), error.ParamName);
        Assert.Contains("from 64 KiB to 1 GiB", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The smallest window (one packet's worth) and a large one both carry 8 MiB each way intact:
    /// the smallest reopens its window over a hundred times per direction, so a lost or
    /// miscounted adjustment would stall the echo instead of finishing it.
    /// </summary>
    [Theory]
    [InlineData(64 * 1024)]
    [InlineData(16 * 1024 * 1024)]
    public async Task An_echo_of_8_MiB_comes_back_intact_through_a_window_of(int window)
    {
        using var echo = EchoServer.Start();
        var options = sshd.Options(ClientKey.Ed25519);
        options.ChannelWindowSize = window;
        await using var session = await SshTunnelSession.ConnectAsync(options);
        var local = LocalForwardSet.Open(session, [echo.Endpoint.ToString()]).LocalEndpoints[0];
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, local.Port);
        var stream = client.GetStream();
        var payload = new byte[8 * 1024 * 1024];
        Random.Shared.NextBytes(payload);
        var reply = new byte[payload.Length];
        var clock = Stopwatch.StartNew();
        var write = stream.WriteAsync(payload).AsTask();
        await stream.ReadExactlyAsync(reply).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        await write;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"window {window / 1024} KiB: 8 MiB echoed in {clock.Elapsed.TotalMilliseconds:0} ms"));
        Assert.True(payload.AsSpan().SequenceEqual(reply), "The echo differs from what was sent.");
    }
}
