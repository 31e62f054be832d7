using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using NetMQ;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// <see cref="SelfHealingForward"/> against a real sshd: the session dies (its sshd process
/// killed, or sshd restarted) and the SAME local port carries requests again, the REQ socket
/// reconnecting by itself.
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class SelfHealingTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);
    private static readonly SelfHealingForwardOptions FastHealing = new() { ReconnectDelay = TimeSpan.FromMilliseconds(200), MaxReconnectDelay = TimeSpan.FromSeconds(2) };

    [Fact]
    public async Task A_killed_session_is_replaced_and_the_same_local_port_works_again()
    {
        using var server = ReplyServer.Start();
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), TcpEndpoint.Parse(server.Endpoint), FastHealing);
        var lost = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.Disconnected += (_, e) => lost.TrySetResult(e.Reason);
        var first = await forward.WaitUntilUpAsync(Generous);
        using var req = NewSocket(forward);
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));

        sshd.KillSessions();
        var reason = await lost.Task.WaitAsync(Generous);
        var watch = Stopwatch.StartNew();
        var second = await forward.WaitUntilUpAsync(Generous);

        // The socket's pending connection died with the session; NetMQ reconnects to the same port.
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        output.WriteLine($"session lost ({reason}); first reply through the new session after {watch.Elapsed.TotalSeconds:0.00} s");
        Assert.NotSame(first, second);
        Assert.Equal(2, forward.SessionCount);
        Assert.Single(TestNet.ListeningSockets(forward.LocalPort));
    }

    [Fact]
    public async Task After_sshd_restarts_the_same_local_port_works_again()
    {
        using var server = ReplyServer.Start();
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), TcpEndpoint.Parse(server.Endpoint), FastHealing);
        var retries = 0;
        forward.ConnectRetry += (_, _) => Interlocked.Increment(ref retries);
        await forward.WaitUntilUpAsync(Generous);
        using var req = NewSocket(forward);
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        var port = forward.LocalPort;

        // Down for 3 s: the forward retries with backoff meanwhile, and its listener stays.
        sshd.Restart(TimeSpan.FromSeconds(3));
        var watch = Stopwatch.StartNew();

        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        output.WriteLine($"first reply {watch.Elapsed.TotalSeconds:0.00} s after sshd was back; {retries} login attempt(s) failed meanwhile");
        Assert.Equal(port, forward.LocalPort);
        Assert.True(forward.SessionCount >= 2, $"{forward.SessionCount} session(s)");
        Assert.True(retries >= 1, "logins were retried while sshd was down");
    }

    [Fact]
    public async Task A_target_that_is_down_is_reported_and_the_session_stays()
    {
        var closedPort = TestNet.FreePort();
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), new TcpEndpoint("127.0.0.1", closedPort), FastHealing);
        var failed = new TaskCompletionSource<SshForwardException>(TaskCreationOptions.RunContinuationsAsynchronously);
        forward.ForwardFailed += (_, e) => failed.TrySetResult(e.Error);
        var session = await forward.WaitUntilUpAsync(Generous);

        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort);
            var error = await failed.Task.WaitAsync(Generous);

            Assert.Equal(new TcpEndpoint("127.0.0.1", closedPort), error.Remote);
            Assert.Contains("SSH_OPEN_CONNECT_FAILED", error.Message, StringComparison.Ordinal);
            output.WriteLine(error.Message);
        }

        Assert.Same(session, forward.Session);
        Assert.Equal(1, forward.SessionCount);
    }

    [Fact]
    public async Task A_refused_host_key_stops_the_forward_with_the_error_instead_of_retrying()
    {
        await using var forward = SelfHealingForward.Start(
            sshd.Options(ClientKey.Ed25519, HostKeyPolicy.Pinned(sshd.OtherHostKeyFingerprint)), new TcpEndpoint("127.0.0.1", 1), FastHealing);

        await Assert.ThrowsAsync<SshHostKeyRejectedException>(() => forward.WaitUntilUpAsync(Generous));
        Assert.IsType<SshHostKeyRejectedException>(forward.Fault);
        Assert.Equal(0, forward.SessionCount);
    }

    [Fact]
    public async Task Two_hundred_open_close_cycles_leave_no_connection_behind_on_either_side()
    {
        using var server = ReplyServer.Start();
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), TcpEndpoint.Parse(server.Endpoint), FastHealing);
        await forward.WaitUntilUpAsync(Generous);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 200; i++)
        {
            using var req = NewSocket(forward);
            Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        }

        output.WriteLine($"200 cycles (connect, request, reply, close) in {watch.Elapsed.TotalSeconds:0.0} s");
        // Closed connections take a moment to be torn down through the SSH channel.
        var leaked = await WaitForNoCloseWaitAsync([forward.LocalPort, server.Port]);
        Assert.True(leaked.Count == 0, "CLOSE_WAIT left:\n" + string.Join('\n', leaked));
        var established = Connections("established", forward.LocalPort);
        Assert.True(established.Count == 0, "connections still open to the forward:\n" + string.Join('\n', established));
    }

    private static NetMQ.Sockets.RequestSocket NewSocket(SelfHealingForward forward)
    {
        var req = Requests.NewRequestSocket();
        req.Options.ReconnectIntervalMax = TimeSpan.FromSeconds(1);
        req.Connect(forward.LocalEndpoint.ToString());
        return req;
    }

    private static async Task<List<string>> WaitForNoCloseWaitAsync(int[] ports)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var left = ports.SelectMany(p => Connections("close-wait", p)).ToList();
            if (left.Count == 0 || deadline.Elapsed > TimeSpan.FromSeconds(15))
            {
                return left;
            }

            await Task.Delay(200);
        }
    }

    /// <summary><c>ss -Htn state STATE</c> lines with <paramref name="port"/> at either end.</summary>
    private static List<string> Connections(string state, int port)
    {
        var output = ProcessRunner.RunChecked("/usr/bin/ss", ["-Htn", "state", state]).StandardOutput;
        var suffix = string.Create(CultureInfo.InvariantCulture, $":{port}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(f => f.EndsWith(suffix, StringComparison.Ordinal)))];
    }
}
