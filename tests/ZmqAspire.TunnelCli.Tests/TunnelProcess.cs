using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>zmq-tunnel (src/ZmqAspire.TunnelCli's build output) run as a child process, stdin closed, its output captured.</summary>
internal sealed partial class TunnelProcess : IDisposable
{
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private TunnelProcess(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment)
    {
        // env --default-signal=INT: SIGINT at its default, as in a terminal's foreground job, even
        // when the tests run under a shell's background job (SIGINT ignored there, and so in
        // zmq-tunnel, as in ssh: the SIGINT tests then waited for an exit that never came).
        var info = new ProcessStartInfo("env")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        info.ArgumentList.Add(Assembly);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        Process = new Process { StartInfo = info };
        Process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        Process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        Process.Start();
        Process.StandardInput.Close();
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string StandardOutput => Text(_stdout);

    public string StandardError => Text(_stderr);

    /// <summary>Both streams and the exit code, for assertion messages.</summary>
    public string Describe => $"exit {(Process.HasExited ? Process.ExitCode.ToString(CultureInfo.InvariantCulture) : "(running)")}\n--- stdout\n{StandardOutput}\n--- stderr\n{StandardError}";

    /// <summary>The build output of src/ZmqAspire.TunnelCli, in this test build's configuration.</summary>
    public static string Assembly { get; } = FindAssembly();

    public static TunnelProcess Start(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null) => new(arguments, environment);

    /// <summary>Runs zmq-tunnel to its end (it must end within <paramref name="timeout"/>).</summary>
    public static async Task<TunnelProcess> RunAsync(IReadOnlyList<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var tunnel = Start(arguments, environment);
        await tunnel.WaitForExitAsync(timeout);
        return tunnel;
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await Process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            var text = Describe;
            Process.Kill(entireProcessTree: true);
            throw new TimeoutException($"zmq-tunnel did not exit within {timeout.TotalSeconds} s:\n{text}");
        }

        // The asynchronous readers may still hold the last lines.
        Process.WaitForExit();
    }

    /// <summary>Waits for the forward lines (<c>tcp://127.0.0.1:PORT -> TARGET via SERVER</c>) and returns the local ports.</summary>
    public async Task<IReadOnlyList<int>> WaitForForwardsAsync(int count, TimeSpan timeout, bool onStderr = false)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var ports = ForwardLine().Matches(onStderr ? StandardError : StandardOutput)
                .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
            if (ports.Count >= count)
            {
                return ports;
            }

            if (Process.HasExited || deadline.Elapsed > timeout)
            {
                throw new InvalidOperationException($"zmq-tunnel printed no {count} forward line(s):\n{Describe}");
            }

            await Task.Delay(50);
        }
    }

    public static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout)
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

    /// <summary>Sends a signal with kill(1).</summary>
    public void Signal(string signal) =>
        ProcessRunner.RunChecked("/bin/kill", [$"-{signal}", Process.Id.ToString(CultureInfo.InvariantCulture)]);

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        Process.Dispose();
    }

    /// <summary>The lines of <c>ss -Hltn</c> listening on <paramref name="port"/> (any address).</summary>
    public static IReadOnlyList<string> ListeningSockets(int port)
    {
        var output = ProcessRunner.RunChecked("/usr/bin/ss", ["-Hltn"]).StandardOutput;
        var suffix = string.Create(CultureInfo.InvariantCulture, $":{port}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: >= 4 } fields && fields[3].EndsWith(suffix, StringComparison.Ordinal))];
    }

    [GeneratedRegex(@"^tcp://127\.0\.0\.1:(\d+) -> tcp://\S+ via \S+$", RegexOptions.Multiline)]
    private static partial Regex ForwardLine();

    private static void Append(StringBuilder text, string? line)
    {
        if (line is not null)
        {
            lock (text)
            {
                text.AppendLine(line);
            }
        }
    }

    private static string Text(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }

    private static string FindAssembly()
    {
        // .../tests/ZmqAspire.TunnelCli.Tests/bin/<Configuration>/net10.0/
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "src", "ZmqAspire.TunnelCli", "bin", configuration, "net10.0", "zmq-tunnel.dll");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException("zmq-tunnel is not built: build the solution first.");
    }
}
