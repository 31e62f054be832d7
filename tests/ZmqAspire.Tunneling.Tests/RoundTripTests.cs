using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>NetMQ REQ/REP through a real SSH tunnel, end to end.</summary>
[Collection(SshdCollection.Name)]
public sealed class RoundTripTests(SshdFixture sshd)
{
    [Fact]
    public async Task Request_through_tunnel_gets_exact_reply()
    {
        using var server = ReplyServer.Start();
        var req = Requests.NewRequestSocket();
        var session = await req.ConnectThroughTunnelAsync($"tcp://127.0.0.1:{server.Port}", sshd.Options(ClientKey.Ed25519));
        try
        {
            Assert.True(session.IsConnected);
            Assert.Equal(sshd.HostKeyFingerprint, session.HostKeyFingerprint);
            var forward = Assert.Single(session.Forwards);
            Assert.Equal(new TcpEndpoint("127.0.0.1", server.Port), forward.Remote);
            Assert.Equal("127.0.0.1", forward.LocalEndpoint.Host);
            Assert.True(forward.IsListening);

            var reply = Requests.Ask(req, "Hello", () => sshd.LogTail() + "\nREP: " + server.Failure);

            Assert.Equal($"World from {server.Port}", reply);
        }
        finally
        {
            // Socket first, then the session that carries it (as the library documents).
            req.Dispose();
            await session.DisposeAsync();
        }
    }

    [Fact]
    public async Task Multi_frame_message_round_trips_intact()
    {
        using var server = ReplyServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);
        byte[][] frames =
        [
            Encoding.UTF8.GetBytes("alpha"),
            [],
            [.. Enumerable.Range(0, 256).Select(i => (byte)i)],
            Encoding.UTF8.GetBytes("omega ✓"),
        ];

        var reply = Requests.AskMultipart(req, frames, () => sshd.LogTail() + "\nREP: " + server.Failure);

        Assert.Equal(frames.Length + 1, reply.Count);
        Assert.Equal(server.EchoPrefix, Encoding.UTF8.GetString(reply[0]));
        for (var i = 0; i < frames.Length; i++)
        {
            Assert.Equal(frames[i], reply[i + 1]);
        }
    }

    [Fact]
    public async Task One_mebibyte_message_round_trips_intact()
    {
        using var server = ReplyServer.Start();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);

        var reply = Requests.AskMultipart(req, [payload], () => sshd.LogTail() + "\nREP: " + server.Failure);

        Assert.Equal(2, reply.Count);
        Assert.Equal(server.EchoPrefix, Encoding.UTF8.GetString(reply[0]));
        Assert.Equal(payload.Length, reply[1].Length);
        // Not Assert.Equal: a mismatch would print a megabyte.
        Assert.True(payload.AsSpan().SequenceEqual(reply[1]), "The 1 MiB payload came back altered.");
        Assert.Equal(
            Convert.ToHexString(SHA256.HashData(payload)),
            Convert.ToHexString(SHA256.HashData(reply[1])));
    }

    [Fact]
    public async Task One_session_carries_three_forwards_concurrently_with_one_login()
    {
        const string login = "Accepted publickey for " + SshdFixture.User;
        var logPosition = sshd.LogPosition();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var server1 = ReplyServer.Start();
        using var server2 = ReplyServer.Start();
        using var server3 = ReplyServer.Start();
        ReplyServer[] servers = [server1, server2, server3];
        using var allOpen = new Barrier(servers.Length);

        var clients = servers.Select(server => Task.Factory.StartNew(
            () =>
            {
                var req = Requests.NewRequestSocket();
                LocalForward? forward = null;
                try
                {
                    // The three forwards are opened at the same time on the one session.
                    forward = req.ConnectThroughTunnel(server.Endpoint, session);
                    if (!allOpen.SignalAndWait(TimeSpan.FromSeconds(30)))
                    {
                        throw new TimeoutException("The three forwards were not all open within 30 s.");
                    }

                    var openTogether = session.Forwards.Count;
                    var replies = Enumerable.Range(0, 5)
                        .Select(_ => Requests.Ask(req, "Hello", () => sshd.LogTail() + "\nREP: " + server.Failure))
                        .ToList();
                    return (Server: server, forward.LocalPort, OpenTogether: openTogether, Replies: replies);
                }
                finally
                {
                    req.Dispose();
                    forward?.Dispose();
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();

        var results = await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(90));

        foreach (var (server, _, openTogether, replies) in results)
        {
            Assert.Equal(3, openTogether);
            Assert.All(replies, reply => Assert.Equal(server.ExpectedGreeting, reply));
        }

        Assert.Equal(3, results.Select(r => r.LocalPort).Distinct().Count());
        Assert.True(session.IsConnected);
        Assert.Empty(session.Forwards);

        // sshd may log the login a moment after the client is told it succeeded: wait for it.
        _ = await sshd.WaitForLogLinesAsync(logPosition, login, 1, TimeSpan.FromSeconds(10));
        var logins = SshdFixture.CountLines(sshd.LogSince(logPosition), login);
        Assert.True(logins == 1, string.Create(CultureInfo.InvariantCulture, $"sshd saw {logins} logins, expected 1:{sshd.LogTail()}"));
    }
}
