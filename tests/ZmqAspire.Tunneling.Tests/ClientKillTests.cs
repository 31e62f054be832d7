using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// The real client (src/ZmqAspire.Client, run as a child process) killed with SIGKILL while it
/// sends through its tunnel, again and again: it cannot clean up, so whatever it held must go
/// with it. Nothing of it may stay listening, and sshd's sessions must return to the baseline
/// (an <c>ssh -L</c> child process, as pyzmq's tunnel starts, would be orphaned instead).
/// </summary>
[Collection(SshdCollection.Name)]
public sealed class ClientKillTests(SshdFixture sshd, ITestOutputHelper output)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_client_killed_with_sigkill_leaves_no_listener_and_no_ssh_session_behind()
    {
        using var server = ReplyServer.Start();
        await WaitForSessionsAsync(0); // earlier tests' sessions end
        var baseline = sshd.SessionProcesses().Count;
        for (var round = 1; round <= 3; round++)
        {
            using var client = ClientProcess.Start(sshd, server.Endpoint, out var log);
            var up = await ClientProcess.WaitForAsync(() => ClientProcess.Contains(log, "Received reply 1 ["), Generous);
            Assert.True(up, $"round {round}: the client got no replies:\n{ClientProcess.Text(log)}{sshd.LogTail()}");
            var listening = Listeners(client.Id);
            Assert.NotEmpty(listening); // its forward's listener (and its HTTP endpoint)
            Assert.True(sshd.SessionProcesses().Count > baseline, "the client's SSH session shows on sshd");

            client.Kill(); // SIGKILL: no shutdown code runs
            Assert.True(client.WaitForExit(10_000));
            var watch = Stopwatch.StartNew();
            var back = await WaitForSessionsAsync(baseline);
            output.WriteLine($"round {round}: {listening.Count} listener(s) while running; sshd sessions back to {baseline} {watch.Elapsed.TotalSeconds:0.0} s after SIGKILL");
            Assert.True(back, $"round {round}: sshd still has {sshd.SessionProcesses().Count} session process(es), baseline {baseline}");
            Assert.Empty(Listeners(client.Id));
            Assert.All(listening, port => Assert.Empty(TestNet.ListeningSockets(port)));
        }
    }

    /// <summary>Ports a process listens on (<c>ss -Hltnp</c>).</summary>
    internal static List<int> Listeners(int pid)
    {
        var lines = ProcessRunner.RunChecked("/usr/bin/ss", ["-Hltnp"]).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var tag = string.Create(CultureInfo.InvariantCulture, $"pid={pid},");
        return [.. lines.Where(l => l.Contains(tag, StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3])
            .Select(local => int.Parse(local[(local.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture))];
    }

    private async Task<bool> WaitForSessionsAsync(int count) =>
        await ClientProcess.WaitForAsync(() => sshd.SessionProcesses().Count <= count, TimeSpan.FromSeconds(30));
}
