using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ZmqAspire.Testing.Sshd;

/// <summary>
/// A real OpenSSH sshd on 127.0.0.1, run in the foreground as our child with the caller's
/// sshd_config (the caller makes the keys and the config; this class runs the process): checks
/// the config with <c>sshd -t</c>, picks a free loopback port, starts
/// <c>sshd -D -e -E LOG -f CONFIG</c> and waits for its <c>SSH-2.0-</c> identification string
/// (RFC 4253 section 4.2). Linux only.
/// </summary>
public sealed class SshdProcess : IDisposable
{
    /// <summary>Gets the path of sshd (Debian package openssh-server).</summary>
    public const string SshdPath = "/usr/sbin/sshd";

    private const int Attempts = 5;
    private readonly Func<int, string> _config;
    private readonly TimeSpan _startTimeout;
    private readonly Action<Process>? _started;
    private readonly Action<Process>? _stopping;
    private readonly StringBuilder _console = new();
    private Process? _process;

    /// <summary>Creates the runner; nothing starts until <see cref="Start"/>.</summary>
    /// <param name="configPath">Where to write sshd_config.</param>
    /// <param name="logPath">Where sshd writes its log (<c>-E</c>).</param>
    /// <param name="config">Makes the sshd_config text for a port.</param>
    /// <param name="startTimeout">How long to wait for the banner on each attempt.</param>
    /// <param name="started">Called with each sshd process started (e.g. to kill it if the host process ends early).</param>
    /// <param name="stopping">Called with each sshd process before it is stopped.</param>
    public SshdProcess(string configPath, string logPath, Func<int, string> config, TimeSpan startTimeout, Action<Process>? started = null, Action<Process>? stopping = null)
    {
        ConfigPath = configPath;
        LogPath = logPath;
        _config = config;
        _startTimeout = startTimeout;
        _started = started;
        _stopping = stopping;
    }

    /// <summary>Gets the sshd_config path.</summary>
    public string ConfigPath { get; }

    /// <summary>Gets the file sshd logs to.</summary>
    public string LogPath { get; }

    /// <summary>Gets the port sshd listens on, on 127.0.0.1 (0 before <see cref="Start"/>).</summary>
    public int Port { get; private set; }

    /// <summary>Gets the process id of the listening sshd (0 when not running); its per-connection processes are its children.</summary>
    public int Pid => _process?.Id ?? 0;

    /// <summary>
    /// Starts sshd on a free loopback port, up to 5 ports if another process took the port first.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>sshd -t</c> rejects the config, or sshd did not send its banner.</exception>
    /// <exception cref="PlatformNotSupportedException">Not Linux.</exception>
    public void Start()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("SshdProcess runs OpenSSH's sshd: Linux only.");
        }

        if (Environment.IsPrivilegedProcess)
        {
            // sshd's privilege separation needs its empty chroot directory.
            Directory.CreateDirectory("/run/sshd");
            File.SetUnixFileMode("/run/sshd",
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        var failures = new StringBuilder();
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            // Bind to port 0 and release it: only sshd takes the port, so the short race is acceptable.
            var port = LoopbackPort.Free();
            File.WriteAllText(ConfigPath, _config(port));
            var check = ProcessRunner.Run(SshdPath, ["-t", "-f", ConfigPath]);
            if (check.ExitCode != 0)
            {
                throw new InvalidOperationException($"sshd -t rejects {ConfigPath}: {check.StandardError} {check.StandardOutput}");
            }

            if (File.Exists(LogPath))
            {
                File.Delete(LogPath);
            }

            StartProcess();
            if (WaitForBanner(port))
            {
                Port = port;
                return;
            }

            failures.Append(CultureInfo.InvariantCulture, $"attempt {attempt} on port {port}:{Tail()}\n");
            Stop();
            var log = File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;
            if (!log.Contains("Bind to port", StringComparison.Ordinal) && !log.Contains("Address already in use", StringComparison.Ordinal))
            {
                break; // not a port clash: retrying will not help
            }
        }

        throw new InvalidOperationException($"sshd did not start and send an SSH-2.0 banner:\n{failures}");
    }

    /// <summary>Stops sshd with its sessions, and starts it again on the same port with the same config.</summary>
    /// <param name="down">How long nothing listens on the port.</param>
    /// <exception cref="InvalidOperationException">sshd did not send its banner again.</exception>
    public void Restart(TimeSpan down)
    {
        Stop();
        Thread.Sleep(down);
        StartProcess();
        if (!WaitForBanner(Port))
        {
            throw new InvalidOperationException($"sshd did not come back on port {Port}:{Tail()}");
        }
    }

    /// <summary>Gets the last lines of sshd's log and its console output, for error and assertion messages.</summary>
    public string Tail(int lines = 30)
    {
        string log;
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            log = reader.ReadToEnd();
        }
        catch (IOException ex)
        {
            log = $"(no log: {ex.Message})";
        }

        string console;
        lock (_console)
        {
            console = _console.ToString();
        }

        var tail = string.Join('\n', log.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines));
        return $"\n--- sshd log tail ({LogPath}) ---\n{tail}\n--- sshd console ---\n{console}\n---";
    }

    /// <summary>Stops sshd and the per-connection processes it forked.</summary>
    public void Dispose() => Stop();

    private void StartProcess()
    {
        // -D: stay in the foreground as our child; -e with -E: log to the file instead of syslog.
        var info = new ProcessStartInfo(SshdPath);
        foreach (var argument in new[] { "-D", "-e", "-E", LogPath, "-f", ConfigPath })
        {
            info.ArgumentList.Add(argument);
        }

        _process = ProcessRunner.StartCapturing(info, _console);
        _started?.Invoke(_process);
    }

    private void Stop()
    {
        if (_process is null)
        {
            return;
        }

        _stopping?.Invoke(_process);
        ProcessRunner.Stop(_process); // also ends the per-connection children sshd forked
        _process = null;
    }

    /// <summary>Waits until sshd accepts a TCP connection and sends its identification string.</summary>
    private bool WaitForBanner(int port)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < _startTimeout && _process is { HasExited: false })
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(new IPEndPoint(IPAddress.Loopback, port));
                client.ReceiveTimeout = 5_000;
                using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
                if (reader.ReadLine() is { } line && line.StartsWith("SSH-2.0-", StringComparison.Ordinal))
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                // Not listening yet.
            }

            Thread.Sleep(50);
        }

        return false;
    }
}
