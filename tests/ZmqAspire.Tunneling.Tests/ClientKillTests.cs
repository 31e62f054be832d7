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
            using var client = StartClient(server.Endpoint, out var log);
            var up = await WaitForAsync(() => Contains(log, "Received reply 1 ["), Generous);
            Assert.True(up, $"round {round}: the client got no replies:\n{Text(log)}{sshd.LogTail()}");
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

    private Process StartClient(string remote, out StringBuilder log)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(ClientAssembly());
        info.Environment["Tunnel__SshServer"] = $"{SshdFixture.User}@{SshdFixture.Loopback}:{sshd.Port.ToString(CultureInfo.InvariantCulture)}";
        info.Environment["Tunnel__HostKeyFingerprint"] = sshd.HostKeyFingerprint;
        info.Environment["Tunnel__PrivateKeyPath"] = sshd.KeyPath(ClientKey.Ed25519);
        info.Environment["Tunnel__RemoteEndpoint"] = remote;
        info.Environment["Client__RequestCount"] = "0";
        info.Environment["Client__Interval"] = "00:00:00.1";
        info.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        info.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = null;
        var process = new Process { StartInfo = info };
        var text = new StringBuilder();
        DataReceivedEventHandler capture = (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (text)
                {
                    text.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += capture;
        process.ErrorDataReceived += capture;
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        log = text;
        return process;
    }

    /// <summary>The client's build output (built with the solution; this project references it for the build order).</summary>
    private static string ClientAssembly()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var bin = Path.Combine(dir.FullName, "src", "ZmqAspire.Client", "bin");
            if (Directory.Exists(bin))
            {
                var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // .../bin/<Configuration>/net10.0
                var path = Path.Combine(bin, configuration, "net10.0", "ZmqAspire.Client.dll");
                return File.Exists(path) ? path : throw new FileNotFoundException("Build the solution first: the client is not built.", path);
            }
        }

        throw new DirectoryNotFoundException("src/ZmqAspire.Client not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Ports a process listens on (<c>ss -Hltnp</c>).</summary>
    private static List<int> Listeners(int pid)
    {
        var lines = ProcessRunner.RunChecked("/usr/bin/ss", ["-Hltnp"]).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var tag = string.Create(CultureInfo.InvariantCulture, $"pid={pid},");
        return [.. lines.Where(l => l.Contains(tag, StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3])
            .Select(local => int.Parse(local[(local.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture))];
    }

    private async Task<bool> WaitForSessionsAsync(int count) =>
        await WaitForAsync(() => sshd.SessionProcesses().Count <= count, TimeSpan.FromSeconds(30));

    private static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(100);
        }

        return true;
    }

    private static bool Contains(StringBuilder log, string text)
    {
        lock (log)
        {
            return log.ToString().Contains(text, StringComparison.Ordinal);
        }
    }

    private static string Text(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }
}
