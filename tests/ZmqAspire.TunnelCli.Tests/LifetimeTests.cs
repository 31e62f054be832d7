using System.Diagnostics;
using System.Globalization;
using NetMQ;
using NetMQ.Sockets;
using Xunit.Abstractions;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>zmq-tunnel leaves nothing behind: signals close everything within a second, and SIGKILL leaves no listener and no SSH session.</summary>
[Collection(CliSshdCollection.Name)]
public sealed class LifetimeTests(CliSshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task A_signal_closes_the_forward_and_the_session_within_a_second_with_exit_0(string signal)
    {
        using var server = ReplyServer.Start();
        var baseline = sshd.SessionProcesses().Count;
        using var tunnel = TunnelProcess.Start([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath]);
        var port = Assert.Single(await tunnel.WaitForForwardsAsync(1, Generous));
        Roundtrip(port, server, tunnel);

        var watch = Stopwatch.StartNew();
        tunnel.Signal(signal);
        await tunnel.WaitForExitAsync(TimeSpan.FromSeconds(10));
        watch.Stop();
        output.WriteLine($"SIG{signal}: exited {watch.ElapsedMilliseconds} ms after the signal");
        Assert.True(tunnel.Process.ExitCode == 0, tunnel.Describe);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"exited {watch.ElapsedMilliseconds} ms after SIG{signal}\n{tunnel.Describe}");
        Assert.Empty(TunnelProcess.ListeningSockets(port));
        Assert.True(await TunnelProcess.WaitForAsync(() => sshd.SessionProcesses().Count <= baseline, TimeSpan.FromSeconds(10)), "sshd kept the session");
    }

    [Fact]
    public async Task SIGTERM_closes_within_a_second_when_the_bastion_is_frozen()
    {
        // A bastion that stopped answering (its session processes stopped, as a VM paused or a
        // host swapping to death would leave them): nothing it owes us may hold up the exit.
        using var server = ReplyServer.Start();
        var before = sshd.SessionProcesses();
        using var tunnel = TunnelProcess.Start([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath]);
        var port = Assert.Single(await tunnel.WaitForForwardsAsync(1, Generous));
        Roundtrip(port, server, tunnel);
        var session = sshd.SessionProcesses().Except(before).ToList();
        Assert.NotEmpty(session);
        var frozen = session.Concat(ProcFs.ParentIds().Where(p => session.Contains(p.Value)).Select(p => p.Key)).ToList();
        ProcessRunner.RunChecked("/bin/kill", ["-STOP", .. frozen.Select(p => p.ToString(CultureInfo.InvariantCulture))]);
        try
        {
            // A connection open across the freeze: its relay waits on the frozen session too.
            using var req = new RequestSocket();
            req.Options.Linger = TimeSpan.Zero;
            req.Connect(string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{port}"));
            req.SendFrame("Hello");
            Assert.False(req.TryReceiveFrameString(TimeSpan.FromSeconds(1), out _), "a reply came through a frozen bastion");

            var watch = Stopwatch.StartNew();
            tunnel.Signal("TERM");
            await tunnel.WaitForExitAsync(TimeSpan.FromSeconds(60));
            watch.Stop();
            output.WriteLine($"SIGTERM with the bastion frozen: exited {watch.ElapsedMilliseconds} ms after the signal, exit code {tunnel.Process.ExitCode}");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"exited {watch.ElapsedMilliseconds} ms after SIGTERM\n{tunnel.Describe}");
            Assert.True(tunnel.Process.ExitCode == 0, tunnel.Describe);
            Assert.Empty(TunnelProcess.ListeningSockets(port));
        }
        finally
        {
            // Our own freeze undone, so that the session ends and the fixture's sshd stays usable.
            ProcessRunner.Run("/bin/kill", ["-CONT", .. frozen.Select(p => p.ToString(CultureInfo.InvariantCulture))]);
        }
    }

    [Fact]
    public async Task SIGTERM_in_child_mode_is_passed_to_the_child_and_its_exit_code_returned()
    {
        using var server = ReplyServer.Start();
        using var tunnel = TunnelProcess.Start(
            [sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--", "/usr/bin/python3", "-c", "import time; print('child up', flush=True); time.sleep(120)"]);
        Assert.True(await TunnelProcess.WaitForAsync(() => tunnel.StandardOutput.Contains("child up", StringComparison.Ordinal), Generous), tunnel.Describe);
        var watch = Stopwatch.StartNew();
        tunnel.Signal("TERM");
        await tunnel.WaitForExitAsync(TimeSpan.FromSeconds(10));
        output.WriteLine($"exited {watch.ElapsedMilliseconds} ms after SIGTERM");
        // Python does not handle SIGTERM: it dies of it, 128 + 15 as a shell reports it.
        Assert.True(tunnel.Process.ExitCode == 143, tunnel.Describe);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"exited {watch.ElapsedMilliseconds} ms after SIGTERM");
    }

    [Fact]
    public async Task A_child_does_not_outlive_a_zmq_tunnel_killed_with_sigkill()
    {
        using var server = ReplyServer.Start();
        using var tunnel = TunnelProcess.Start(
            [sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--", "/usr/bin/python3", "-c", "import os, time; print('child pid', os.getpid(), flush=True); time.sleep(120)"]);
        Assert.True(await TunnelProcess.WaitForAsync(() => tunnel.StandardOutput.Contains("child pid ", StringComparison.Ordinal), Generous), tunnel.Describe);
        var line = tunnel.StandardOutput.Split('\n').First(l => l.StartsWith("child pid ", StringComparison.Ordinal));
        var pid = int.Parse(line["child pid ".Length..].Trim(), CultureInfo.InvariantCulture);
        Assert.True(Directory.Exists($"/proc/{pid}"), "the child is not running");

        tunnel.Signal("KILL");
        await tunnel.WaitForExitAsync(TimeSpan.FromSeconds(10));
        // The kernel's parent-death signal (setpriv --pdeathsig TERM) ends it; /proc/PID goes once it is reaped (by init).
        Assert.True(await TunnelProcess.WaitForAsync(() => !Directory.Exists($"/proc/{pid}") || IsZombie(pid), TimeSpan.FromSeconds(5)), $"the child {pid} outlived zmq-tunnel");
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    [Fact]
    public async Task Killed_with_sigkill_20_times_it_leaves_no_listener_and_no_ssh_session()
    {
        using var server = ReplyServer.Start();
        // The same fixed port every round: each run must also get it back after the last one's SIGKILL.
        var port = LoopbackPort.Free();
        for (var round = 1; round <= 20; round++)
        {
            var baseline = sshd.SessionProcesses().Count;
            using var tunnel = TunnelProcess.Start([sshd.Server, server.Endpoint, "--host-key", sshd.HostKeyFingerprint, "--identity", sshd.KeyPath, "--local-port", port.ToString(CultureInfo.InvariantCulture)]);
            Assert.Equal([port], await tunnel.WaitForForwardsAsync(1, Generous));
            Roundtrip(port, server, tunnel);
            Assert.True(sshd.SessionProcesses().Count > baseline, $"round {round}: no sshd session while zmq-tunnel runs");

            tunnel.Signal("KILL");
            await tunnel.WaitForExitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(137, tunnel.Process.ExitCode);
            var back = await TunnelProcess.WaitForAsync(() => sshd.SessionProcesses().Count <= baseline, TimeSpan.FromSeconds(30));
            Assert.True(back, $"round {round}: sshd has {sshd.SessionProcesses().Count} session process(es), baseline {baseline}");
            Assert.Empty(TunnelProcess.ListeningSockets(port));
        }
    }

    private static void Roundtrip(int port, ReplyServer server, TunnelProcess tunnel)
    {
        using var req = new RequestSocket();
        req.Options.Linger = TimeSpan.Zero;
        req.Connect(string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{port}"));
        req.SendFrame("Hello");
        Assert.True(req.TryReceiveFrameString(TimeSpan.FromSeconds(20), out var reply), tunnel.Describe);
        Assert.Equal(server.ExpectedGreeting, reply);
    }
}
