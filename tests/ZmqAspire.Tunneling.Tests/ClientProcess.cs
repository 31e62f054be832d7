using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>The real client (src/ZmqAspire.Client's build output) as a child process, tunnelling through the test sshd.</summary>
internal static class ClientProcess
{
    /// <summary>Starts the client sending requests to <paramref name="remote"/> (as sshd sees it); its output collects in <paramref name="log"/>.</summary>
    /// <param name="environment">Variables to set (a null value unsets one), applied last.</param>
    /// <param name="connection">Keys of the connection string <c>ConnectionStrings__server</c> to set (a null value leaves one out), over the defaults.</param>
    public static Process Start(SshdFixture sshd, string remote, out StringBuilder log, string requestTimeout = "00:00:10", IReadOnlyDictionary<string, string?>? environment = null, IReadOnlyDictionary<string, string?>? connection = null)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        info.ArgumentList.Add(Assembly());
        var parts = new Dictionary<string, string?>
        {
            ["SshServer"] = $"{SshdFixture.User}@{SshdFixture.Loopback}:{sshd.Port.ToString(CultureInfo.InvariantCulture)}",
            ["HostKeyFingerprint"] = sshd.HostKeyFingerprint,
            ["RemoteEndpoint"] = remote,
            ["PrivateKeyPath"] = sshd.KeyPath(ClientKey.Ed25519),
        };
        foreach (var (key, value) in connection ?? new Dictionary<string, string?>())
        {
            parts[key] = value;
        }

        // As the AppHost's WithSshTunnel and the deployments hand it to AddSshTunnel("server").
        info.Environment["ConnectionStrings__server"] = string.Join(';', parts.Where(p => p.Value is not null).Select(p => $"{p.Key}={p.Value}"));
        info.Environment["Client__RequestCount"] = "0";
        info.Environment["Client__Interval"] = "00:00:00.1";
        info.Environment["Client__RequestTimeout"] = requestTimeout;
        info.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        info.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = null;
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[name] = value;
        }

        var text = new StringBuilder();
        var process = ProcessRunner.StartCapturing(info, text);
        log = text;
        return process;
    }

    /// <summary>Sends a signal (SIGTERM, SIGSTOP, SIGCONT) with kill(1).</summary>
    public static void Signal(int pid, string signal) =>
        ProcessRunner.RunChecked("/bin/kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);

    public static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout)
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

    public static bool Contains(StringBuilder log, string text)
    {
        lock (log)
        {
            return log.ToString().Contains(text, StringComparison.Ordinal);
        }
    }

    public static string Text(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }

    /// <summary>The client's build output (built with the solution; this project references it for the build order).</summary>
    private static string Assembly()
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
}
