using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Xunit.Abstractions;
using ZmqAspire.Testing.Sshd;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The keep-alive probe (<see cref="SshTunnelOptions.ServerAliveInterval"/>,
/// <see cref="SshTunnelOptions.ServerAliveCountMax"/>) against a real sshd: answered while the
/// server lives, unanswered when its session processes are frozen with SIGSTOP (what
/// <c>docker pause</c> does to a bastion: the TCP connection stays open and nothing answers).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed partial class ServerAliveTests(SshdFixture sshd, ITestOutputHelper output)
{
    // The issue's acceptance: Unhealthy within 5 s with no request in flight, Healthy again within 2 s.
    private static readonly TimeSpan DetectBound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RecoverBound = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task An_idle_session_answers_its_probes_and_stays_connected()
    {
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        Assert.NotNull(session.ServerAlive);
        await Task.Delay(TimeSpan.FromSeconds(4));

        var probe = session.ServerAlive!;
        output.WriteLine($"4 s idle: {probe.Probes} probes sent, {probe.Answers} answered");
        Assert.True(probe.Answers >= 2, $"sshd answered {probe.Answers} of {probe.Probes} keepalive@openssh.com probes.{sshd.LogTail()}");
        Assert.True(session.IsConnected);
    }

    [Fact]
    public async Task A_frozen_server_is_noticed_within_seconds_with_no_request_in_flight()
    {
        using var server = ReplyServer.Start();
        var before = sshd.SessionProcesses();
        await using var session = await SshTunnelSession.ConnectAsync(sshd.Options(ClientKey.Ed25519));
        using var req = Requests.NewRequestSocket();
        using var forward = req.ConnectThroughTunnel(server.Endpoint, session);
        Assert.Equal(server.ExpectedGreeting, Requests.Ask(req, "Hello", () => sshd.LogTail()));
        var timedOut = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        session.ServerAliveTimedOut += (_, e) => timedOut.TrySetResult(e.Silence);

        using (Freeze(before))
        {
            var watch = Stopwatch.StartNew();
            var silence = await timedOut.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var detected = watch.Elapsed;
            output.WriteLine($"frozen, idle: dropped after {detected.TotalSeconds:0.00} s (silence measured {silence.TotalSeconds:0.00} s; 1 s x 3)");
            Assert.False(session.IsConnected);
            Assert.True(detected <= DetectBound, $"noticed after {detected.TotalSeconds:0.00} s");
        }
    }

    [Fact]
    public async Task The_forward_turns_Unhealthy_while_the_server_is_frozen_and_Healthy_when_it_answers_again()
    {
        using var server = ReplyServer.Start();
        var before = sshd.SessionProcesses();
        var health = new TunnelHealth();
        await using var forward = SelfHealingForward.Start(sshd.Options(ClientKey.Ed25519), TcpEndpoint.Parse(server.Endpoint));
        health.Attach(forward);
        await forward.WaitUntilUpAsync(TimeSpan.FromSeconds(30));
        Assert.True(await WaitForAsync(() => health.Check().Status == HealthStatus.Healthy, TimeSpan.FromSeconds(10)), health.Check().Description);

        // The whole server this time, listener too, as docker pause freezes a bastion: a new login
        // waits (the kernel still accepts the TCP connection) until it is thawed.
        var watch = new Stopwatch();
        bool unhealthy;
        TimeSpan detected;
        using (var frozen = Freeze(before, listenerToo: true))
        {
            watch.Start();
            unhealthy = await WaitForAsync(() => health.Check().Status == HealthStatus.Unhealthy, TimeSpan.FromSeconds(30));
            detected = watch.Elapsed;
            output.WriteLine($"frozen, idle: Unhealthy after {detected.TotalSeconds:0.00} s: {health.Check().Description}");
            // Stays Unhealthy while frozen: the new login waits for the frozen listener.
            await Task.Delay(TimeSpan.FromSeconds(3));
            // Seen once in a full run: never Unhealthy within 30 s. Say what was frozen and what sshd runs.
            Assert.True(
                health.Check().Status == HealthStatus.Unhealthy,
                $"{health.Check().Status} while frozen (Unhealthy seen: {unhealthy}): {health.Check().Description}; frozen pids {string.Join(',', frozen.Pids)} (listener {sshd.ListenerPid}), sessions before {string.Join(',', before)}, now {string.Join(',', sshd.SessionProcesses())}, sessions of the forward {forward.SessionCount}{sshd.LogTail()}");
        }

        Assert.True(unhealthy && detected <= DetectBound, $"Unhealthy: {unhealthy}, after {detected.TotalSeconds:0.00} s");
        watch.Restart();
        var healthy = await WaitForAsync(() => health.Check().Status == HealthStatus.Healthy, TimeSpan.FromSeconds(30));
        output.WriteLine($"thawed: Healthy after {watch.Elapsed.TotalSeconds:0.00} s");
        Assert.True(healthy && watch.Elapsed <= RecoverBound, $"Healthy: {healthy}, after {watch.Elapsed.TotalSeconds:0.00} s: {health.Check().Description}");
        Assert.Contains("keep-alive", health.Check().Data["ssh.disconnect.last_failure"].ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The probe's idle cost, counted by the kernel on sshd's side of the connection (tcp_info's
    /// bytes_sent/bytes_received and segment counts, read with <c>ss -ti</c>; no capture): TCP
    /// payload (the SSH packets) per second each way, and on the wire with 52 bytes of IPv4+TCP
    /// headers (with timestamps) per segment. Printed, not asserted beyond "the probe runs".
    /// </summary>
    [Fact]
    public async Task Idle_cost_of_the_probe_is_measured()
    {
        var on = await MeasureIdleAsync(TimeSpan.FromSeconds(1));
        var off = await MeasureIdleAsync(TimeSpan.Zero);
        output.WriteLine($"idle {Idle.TotalSeconds:0} s, sshd side: probe 1 s: {on}");
        output.WriteLine($"idle {Idle.TotalSeconds:0} s, sshd side: probe off (SSH.NET's 15 s SSH_MSG_IGNORE only): {off}");
        Assert.True(on.InPerSecond > off.InPerSecond, "the probe adds traffic");
    }

    private async Task<Cost> MeasureIdleAsync(TimeSpan interval)
    {
        var options = sshd.Options(ClientKey.Ed25519);
        options.ServerAliveInterval = interval;
        await using var session = await SshTunnelSession.ConnectAsync(options);
        await Task.Delay(TimeSpan.FromSeconds(2)); // past the login's own traffic
        var port = ClientPort(session);
        var first = TcpInfo(port);
        await Task.Delay(Idle);
        var last = TcpInfo(port);
        var seconds = Idle.TotalSeconds;
        return new Cost(
            (last.Received - first.Received) / seconds,
            (last.Sent - first.Sent) / seconds,
            (last.Received - first.Received + 52 * (last.SegmentsIn - first.SegmentsIn)) / seconds,
            (last.Sent - first.Sent + 52 * (last.SegmentsOut - first.SegmentsOut)) / seconds);
    }

    // The client's source port of the (only new) connection to sshd: the one whose tcp_info is read.
    private int ClientPort(SshTunnelSession session)
    {
        _ = session;
        var lines = Ss($"state established ( sport = :{sshd.Port} )");
        var ports = lines.Select(l => PeerPort().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        return Assert.Single(ports);
    }

    private (long Sent, long Received, long SegmentsOut, long SegmentsIn) TcpInfo(int clientPort)
    {
        var text = string.Join(' ', Ss($"-ti state established ( sport = :{sshd.Port} and dport = :{clientPort} )"));
        long Field(string name) => Regex.Match(text, $@"\b{name}:(\d+)") is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return (Field("bytes_sent"), Field("bytes_received"), Field("segs_out"), Field("segs_in"));
    }

    private static string[] Ss(string filter) =>
        ProcessRunner.RunChecked("/usr/bin/ss", ["-H", "-n", .. filter.Split(' ')]).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private FrozenProcesses Freeze(IReadOnlyList<int> before, bool listenerToo = false)
    {
        // The session's sshd processes (its monitor and the child that relays): as a paused bastion.
        var pids = sshd.SessionProcesses().Except(before).SelectMany(ProcFs.Tree).ToList();
        Assert.NotEmpty(pids);
        if (listenerToo)
        {
            pids.Insert(0, sshd.ListenerPid);
        }

        return FrozenProcesses.Freeze(pids);
    }

    private static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    [GeneratedRegex(@"\S+:(\d+)\s*$")]
    private static partial Regex PeerPort();

    private sealed record Cost(double InPerSecond, double OutPerSecond, double WireInPerSecond, double WireOutPerSecond)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"SSH bytes/s client->server {InPerSecond:0.0}, server->client {OutPerSecond:0.0}; on the wire (52 B headers/segment) {WireInPerSecond:0.0} and {WireOutPerSecond:0.0}");
    }
}
