using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// The benchmark's own OpenSSH sshd on 127.0.0.1: a 0700 temp directory with a fresh host key
/// and login key, key authentication for the current user only (root logs in with
/// <c>PermitRootLogin prohibit-password</c>), local forwards only, no pty.
/// </summary>
internal sealed class Sshd : IDisposable
{
    private const string SshdPath = "/usr/sbin/sshd";
    private const string KeygenPath = "/usr/bin/ssh-keygen";
    private readonly StringBuilder _console = new();
    private Process? _process;

    private Sshd(string directory)
    {
        Directory = directory;
        User = Environment.UserName;
        HostKeyPath = Path.Combine(directory, "ssh_host_ed25519_key");
        ClientKeyPath = Path.Combine(directory, "id_ed25519");
        ConfigPath = Path.Combine(directory, "sshd_config");
        LogPath = Path.Combine(directory, "sshd.log");
        KnownHostsPath = Path.Combine(directory, "known_hosts");
    }

    public string Directory { get; }

    public string User { get; }

    public int Port { get; private set; }

    public int Pid => _process?.Id ?? 0;

    public string HostKeyPath { get; }

    public string ClientKeyPath { get; }

    public string ConfigPath { get; }

    public string LogPath { get; }

    public string KnownHostsPath { get; }

    /// <summary>Gets the host key's SHA-256 fingerprint, to pin in SSH.NET.</summary>
    public string HostKeyFingerprint { get; private set; } = string.Empty;

    public string Version { get; private set; } = string.Empty;

    public static Sshd Start()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The benchmark runs OpenSSH's sshd and reads /proc: Linux only.");
        }

        foreach (var tool in new[] { SshdPath, KeygenPath, SshForward.SshPath })
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"{tool} is missing: run eng/setup.sh (Debian packages openssh-server, openssh-client).");
            }
        }

        var directory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-bench-").FullName;
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var sshd = new Sshd(directory);
        ChildProcesses.AddDirectory(directory);
        try
        {
            sshd.Initialize();
            return sshd;
        }
        catch
        {
            sshd.Dispose();
            throw;
        }
    }

    private void Initialize()
    {
        Proc.RunChecked(KeygenPath, "-q", "-t", "ed25519", "-N", string.Empty, "-C", "zmqaspire-bench host", "-f", HostKeyPath);
        Proc.RunChecked(KeygenPath, "-q", "-t", "ed25519", "-N", string.Empty, "-C", "zmqaspire-bench client", "-f", ClientKeyPath);
        var authorizedKeys = Path.Combine(Directory, "authorized_keys");
        File.Copy(ClientKeyPath + ".pub", authorizedKeys);
        var hostPublic = File.ReadAllText(HostKeyPath + ".pub").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        HostKeyFingerprint = HostKeyPolicy.Fingerprint(Convert.FromBase64String(hostPublic[1]));
        Version = Proc.Run(SshForward.SshPath, "-V").Output.Trim();

        if (Environment.UserName == "root")
        {
            // sshd's privilege separation needs its empty chroot directory.
            System.IO.Directory.CreateDirectory("/run/sshd");
        }

        var failures = new StringBuilder();
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            var port = Proc.FreeLoopbackPort();
            File.WriteAllText(ConfigPath, Config(port, authorizedKeys));
            var check = Proc.Run(SshdPath, "-t", "-f", ConfigPath);
            if (check.ExitCode != 0)
            {
                throw new InvalidOperationException($"sshd -t rejects {ConfigPath}: {check.Output}");
            }

            _process = StartProcess(SshdPath, ["-D", "-e", "-E", LogPath, "-f", ConfigPath], _console);
            if (WaitForBanner(port, TimeSpan.FromSeconds(10)))
            {
                Port = port;
                File.WriteAllText(KnownHostsPath, $"[127.0.0.1]:{port.ToString(CultureInfo.InvariantCulture)} {hostPublic[0]} {hostPublic[1]}\n");
                return;
            }

            failures.AppendLine(CultureInfo.InvariantCulture, $"attempt {attempt} on port {port}: {Tail()}");
            StopProcess(_process);
            _process = null;
        }

        throw new InvalidOperationException($"sshd did not start:\n{failures}");
    }

    /// <summary>Gets the login options for our SSH.NET tunnel, with the host key pinned.</summary>
    public SshTunnelOptions TunnelOptions() => new()
    {
        Server = new SshServerAddress(User, "127.0.0.1", Port),
        HostKey = HostKeyPolicy.Pinned(HostKeyFingerprint),
        PrivateKeyPath = ClientKeyPath,
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };

    /// <summary>Gets the last lines of sshd's log, for error messages.</summary>
    public string Tail(int lines = 20)
    {
        var log = File.Exists(LogPath) ? File.ReadAllLines(LogPath).TakeLast(lines) : [];
        string console;
        lock (_console)
        {
            console = _console.ToString();
        }

        return $"\n--- {LogPath} ---\n{string.Join('\n', log)}\n--- console ---\n{console}";
    }

    /// <summary>Sums the peak RSS of sshd's per-connection processes (privileged monitor and the user's child).</summary>
    public long SessionProcessesPeakRss() => Proc.Descendants(Pid).Sum(pid => Proc.PeakRss(pid) ?? 0);

    public void ResetSessionProcessesPeak()
    {
        foreach (var pid in Proc.Descendants(Pid))
        {
            Proc.ResetPeak(pid);
        }
    }

    public void Dispose()
    {
        if (_process is not null)
        {
            StopProcess(_process);
            _process = null;
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
            ChildProcesses.RemoveDirectory(Directory);
        }
        catch (IOException)
        {
        }
    }

    internal static Process StartProcess(string file, IEnumerable<string> arguments, StringBuilder console)
    {
        var info = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = info };
        DataReceivedEventHandler capture = (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (console)
                {
                    console.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += capture;
        process.ErrorDataReceived += capture;
        process.Start();
        ChildProcesses.Add(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    internal static void StopProcess(Process process)
    {
        ChildProcesses.Remove(process);
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        process.Dispose();
    }

    private bool WaitForBanner(int port, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout && _process is { HasExited: false })
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
            }

            Thread.Sleep(50);
        }

        return false;
    }

    private string Config(int port, string authorizedKeys) =>
        string.Join('\n',
            "# ZmqAspire benchmark sshd: loopback only, one user, key login, local forwards only, no pty.",
            $"Port {port.ToString(CultureInfo.InvariantCulture)}",
            "ListenAddress 127.0.0.1",
            $"HostKey {HostKeyPath}",
            $"PidFile {Path.Combine(Directory, "sshd.pid")}",
            $"AuthorizedKeysFile {authorizedKeys}",
            "UsePAM no",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            $"AllowUsers {User}",
            "AllowTcpForwarding local",
            "PermitOpen any",
            "PermitTTY no",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            "AllowStreamLocalForwarding no",
            "PermitTunnel no",
            "GatewayPorts no",
            "UseDNS no",
            "PrintMotd no",
            "MaxStartups 100:30:200",
            "LogLevel INFO",
            string.Empty);
}

/// <summary>
/// OpenSSH's <c>ssh -N -L ...</c> to the benchmark's sshd, as a user would run it by hand: batch
/// mode, strict host key checking against its own known_hosts file, fail if a forward cannot bind.
/// </summary>
internal sealed class SshForward : IDisposable
{
    public const string SshPath = "/usr/bin/ssh";
    private readonly Process _process;

    private SshForward(Process process, int[] localPorts, string logPath)
    {
        _process = process;
        LocalPorts = localPorts;
        LogPath = logPath;
    }

    public int[] LocalPorts { get; }

    public int Pid => _process.Id;

    public string LogPath { get; }

    /// <summary>Gets the cipher the client negotiated, read from its debug log ("kex: client->server cipher: ...").</summary>
    public string Cipher
    {
        get
        {
            try
            {
                using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (reader.ReadLine() is { } line)
                {
                    var at = line.IndexOf("kex: client->server cipher: ", StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        var rest = line[(at + "kex: client->server cipher: ".Length)..].Split(' ');
                        return rest.Length >= 3 && rest[2] != "<implicit>" ? $"{rest[0]} + {rest[2]}" : rest[0];
                    }
                }
            }
            catch (IOException)
            {
            }

            return "?";
        }
    }

    /// <summary>Starts <c>ssh -L</c> with one forward per target port and waits until every local port listens.</summary>
    public static SshForward Start(Sshd sshd, IReadOnlyList<int> targetPorts, string name)
    {
        Exception? last = null;
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            var localPorts = targetPorts.Select(_ => Proc.FreeLoopbackPort()).ToArray();
            var log = Path.Combine(sshd.Directory, $"ssh-{name}-{attempt}.log");
            List<string> arguments =
            [
                "-N", "-T", "-F", "/dev/null", "-v", "-E", log,
                "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes",
                "-o", $"UserKnownHostsFile={sshd.KnownHostsPath}",
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "ExitOnForwardFailure=yes",
                "-o", "IdentitiesOnly=yes",
                "-i", sshd.ClientKeyPath,
                "-p", sshd.Port.ToString(CultureInfo.InvariantCulture),
            ];
            for (var i = 0; i < targetPorts.Count; i++)
            {
                arguments.Add("-L");
                arguments.Add(string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{localPorts[i]}:127.0.0.1:{targetPorts[i]}"));
            }

            arguments.Add($"{sshd.User}@127.0.0.1");
            var console = new StringBuilder();
            var process = Sshd.StartProcess(SshPath, arguments, console);
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(20) && !process.HasExited)
            {
                var listening = Proc.ListeningPorts();
                if (localPorts.All(listening.Contains))
                {
                    return new SshForward(process, localPorts, log);
                }

                Thread.Sleep(20);
            }

            var detail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).Where(l => !l.StartsWith("debug", StringComparison.Ordinal)).TakeLast(10)) : string.Empty;
            last = new InvalidOperationException($"ssh -L did not open its forwards (exited: {process.HasExited}): {console}{detail}{sshd.Tail()}");
            Sshd.StopProcess(process);
        }

        throw last!;
    }

    public void Dispose() => Sshd.StopProcess(_process);
}
