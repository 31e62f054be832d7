using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// zmq-tunnel (src/ZmqAspire.TunnelCli) as a user runs it: a separate process with one forward
/// per server port, so a peer reaches the server through it exactly as through <c>ssh -L</c>.
/// </summary>
internal sealed partial class CliTransport : Transport
{
    private readonly Process _process;

    private CliTransport(Process process, ServerPorts ports)
        : base("cli", "zmq-tunnel")
    {
        _process = process;
        Ports = ports;
    }

    /// <summary>Gets the cipher: the library's own choice (it is the same library), not readable from outside the process.</summary>
    public override string? Cipher => "as ZmqAspire tunnel (same library, separate process)";

    public override int? HelperPid => _process.Id;

    /// <summary>Starts zmq-tunnel and waits for its four forward lines (JSON).</summary>
    public static CliTransport Start(Sshd sshd, ServerPorts server)
    {
        var dll = Assembly();
        int[] targets = [server.Rep, server.Router, server.Pull, server.Tcp];
        List<string> arguments =
        [
            dll,
            string.Create(CultureInfo.InvariantCulture, $"{sshd.User}@{sshd.Host}:{sshd.Port}"),
            .. targets.Select(p => string.Create(CultureInfo.InvariantCulture, $"tcp://127.0.0.1:{p}")),
            "--host-key", sshd.HostKeyFingerprint,
            "--identity", sshd.ClientKeyPath,
            // The raw TCP echo target says nothing first: the start-up check would wait for it.
            "--no-probe",
            "--json",
        ];
        var console = new StringBuilder();
        var process = Sshd.StartProcess(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", arguments, console);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30) && !process.HasExited)
        {
            string text;
            lock (console)
            {
                text = console.ToString();
            }

            var ports = LocalLine().Matches(text).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
            if (ports.Length == targets.Length)
            {
                return new CliTransport(process, new ServerPorts(ports[0], ports[1], ports[2], server.Control, ports[3]));
            }

            Thread.Sleep(20);
        }

        Sshd.StopProcess(process);
        throw new InvalidOperationException($"zmq-tunnel did not open its forwards (exited: {process.HasExited}): {console}{sshd.Tail()}");
    }

    public override void Dispose() => Sshd.StopProcess(_process);

    /// <summary>zmq-tunnel's build output in this benchmark's configuration (the project reference builds it first).</summary>
    private static string Assembly()
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "src", "ZmqAspire.TunnelCli", "bin", configuration, "net10.0", "zmq-tunnel.dll");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException("zmq-tunnel is not built (src/ZmqAspire.TunnelCli).");
    }

    [GeneratedRegex("\"local\":\"tcp://127\\.0\\.0\\.1:(\\d+)\"")]
    private static partial Regex LocalLine();
}
