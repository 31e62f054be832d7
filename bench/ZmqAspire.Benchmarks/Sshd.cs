using System.Diagnostics;
using System.Globalization;
using System.Text;
using ZmqAspire.Testing.Sshd;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// The benchmark's own OpenSSH sshd on 127.0.0.1: a 0700 temp directory with a fresh host key
/// and login key, key authentication for the current user only (root logs in with
/// <c>PermitRootLogin prohibit-password</c>), local forwards only, no pty. The process itself is
/// run by <see cref="SshdProcess"/> (tests/ZmqAspire.Testing.Sshd, shared with the tunnelling tests).
/// </summary>
internal sealed class Sshd : IDisposable
{
    private const int NamespacePort = 22;
    private readonly NetworkNamespace? _netns;
    private readonly TimeSpan _oneWay;
    private SshdProcess? _sshd;
    private Process? _netnsSshd;
    private DelayLine? _delay;

    private Sshd(string directory, NetworkNamespace? netns, TimeSpan oneWay)
    {
        _netns = netns;
        _oneWay = oneWay;
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

    /// <summary>Gets the address clients connect to: 127.0.0.1, or the namespace's address (a delay line on 127.0.0.1 in front of it in the WAN mode).</summary>
    public string Host { get; private set; } = "127.0.0.1";

    /// <summary>Gets the port clients connect to (the delay line's in the WAN mode).</summary>
    public int Port => _delay?.Port ?? (_netnsSshd is not null ? NamespacePort : _sshd?.Port ?? 0);

    public int Pid => _netnsSshd?.Id ?? _sshd?.Pid ?? 0;

    public string HostKeyPath { get; }

    public string ClientKeyPath { get; }

    public string ConfigPath { get; }

    public string LogPath { get; }

    public string KnownHostsPath { get; }

    /// <summary>Gets the host key's SHA-256 fingerprint, to pin in SSH.NET.</summary>
    public string HostKeyFingerprint { get; private set; } = string.Empty;

    public string Version { get; private set; } = string.Empty;

    /// <summary>Starts sshd on 127.0.0.1, or inside <paramref name="netns"/> behind a delay line of <paramref name="oneWay"/> each way (none when zero).</summary>
    public static Sshd Start(NetworkNamespace? netns = null, TimeSpan oneWay = default)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The benchmark runs OpenSSH's sshd and reads /proc: Linux only.");
        }

        foreach (var tool in new[] { SshdProcess.SshdPath, SshKeygen.Path, SshForward.SshPath })
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"{tool} is missing: run eng/setup.sh (Debian packages openssh-server, openssh-client).");
            }
        }

        var directory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-bench-").FullName;
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var sshd = new Sshd(directory, netns, oneWay);
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
        SshKeygen.Generate(HostKeyPath, "ed25519", bits: null, passphrase: string.Empty, "zmqaspire-bench host");
        SshKeygen.Generate(ClientKeyPath, "ed25519", bits: null, passphrase: string.Empty, "zmqaspire-bench client");
        var authorizedKeys = Path.Combine(Directory, "authorized_keys");
        File.Copy(ClientKeyPath + ".pub", authorizedKeys);
        var (hostKeyType, hostKeyBase64) = SshKeygen.ReadPublicKey(HostKeyPath + ".pub");
        HostKeyFingerprint = HostKeyPolicy.Fingerprint(Convert.FromBase64String(hostKeyBase64));
        Version = Proc.Run(SshForward.SshPath, "-V").Output.Trim();

        if (_netns is null)
        {
            _sshd = new SshdProcess(ConfigPath, LogPath, port => Config("127.0.0.1", port, authorizedKeys), TimeSpan.FromSeconds(10), ChildProcesses.Add, ChildProcesses.Remove);
            _sshd.Start();
        }
        else
        {
            StartInNamespace(_netns, authorizedKeys);
        }

        // known_hosts names a host on port 22 without brackets or port (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT).
        var name = Port == 22 ? Host : $"[{Host}]:{Port.ToString(CultureInfo.InvariantCulture)}";
        File.WriteAllText(KnownHostsPath, $"{name} {hostKeyType} {hostKeyBase64}\n");
    }

    /// <summary>sshd inside the namespace on its veth address, port 22; a delay line in front of it when asked.</summary>
    private void StartInNamespace(NetworkNamespace netns, string authorizedKeys)
    {
        System.IO.Directory.CreateDirectory("/run/sshd"); // privilege separation's empty directory
        File.WriteAllText(ConfigPath, Config(netns.InnerAddress, NamespacePort, authorizedKeys));
        Proc.RunChecked(SshdProcess.SshdPath, "-t", "-f", ConfigPath);
        _netnsSshd = StartProcess(NetworkNamespace.IpPath, ["netns", "exec", netns.Name, SshdProcess.SshdPath, "-D", "-e", "-E", LogPath, "-f", ConfigPath], new StringBuilder());
        Host = netns.InnerAddress;
        if (_oneWay > TimeSpan.Zero)
        {
            _delay = DelayLine.Start(netns.InnerAddress, NamespacePort, _oneWay);
            Host = "127.0.0.1";
        }

        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                client.Connect(Host, Port);
                client.ReceiveTimeout = 5_000;
                using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
                if (reader.ReadLine() is { } line && line.StartsWith("SSH-2.0-", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
            {
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(10) || _netnsSshd.HasExited)
            {
                throw new InvalidOperationException($"sshd in namespace {netns.Name} did not send its banner: {Tail()}");
            }

            Thread.Sleep(50);
        }
    }

    /// <summary>Gets the login options for our SSH.NET tunnel, with the host key pinned.</summary>
    public SshTunnelOptions TunnelOptions() => new()
    {
        Server = new SshServerAddress(User, Host, Port),
        HostKey = HostKeyPolicy.Pinned(HostKeyFingerprint),
        PrivateKeyPath = ClientKeyPath,
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };

    /// <summary>Gets the last lines of sshd's log and console, for error messages.</summary>
    public string Tail(int lines = 20) => _sshd?.Tail(lines)
        ?? (File.Exists(LogPath) ? string.Join('\n', File.ReadLines(LogPath).TakeLast(lines)) : string.Empty);

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
        _sshd?.Dispose();
        _sshd = null;
        _delay?.Dispose();
        if (_netnsSshd is not null)
        {
            StopProcess(_netnsSshd);
            _netnsSshd = null;
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

    /// <summary>Starts a child (ssh, socat, ...) with stdin closed and its output in <paramref name="console"/>, killed if the benchmark ends early.</summary>
    internal static Process StartProcess(string file, IEnumerable<string> arguments, StringBuilder console)
    {
        var info = new ProcessStartInfo(file);
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        var process = ProcessRunner.StartCapturing(info, console);
        ChildProcesses.Add(process);
        return process;
    }

    internal static void StopProcess(Process process)
    {
        ChildProcesses.Remove(process);
        ProcessRunner.Stop(process);
    }

    private string Config(string listenAddress, int port, string authorizedKeys) =>
        string.Join('\n',
            "# ZmqAspire benchmark sshd: loopback only, one user, key login, local forwards only, no pty.",
            $"Port {port.ToString(CultureInfo.InvariantCulture)}",
            $"ListenAddress {listenAddress}",
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
            var localPorts = targetPorts.Select(_ => LoopbackPort.Free()).ToArray();
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
                "-o", "ConnectTimeout=20",
            ];
            for (var i = 0; i < targetPorts.Count; i++)
            {
                arguments.Add("-L");
                arguments.Add(string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{localPorts[i]}:127.0.0.1:{targetPorts[i]}"));
            }

            arguments.Add($"{sshd.User}@{sshd.Host}");
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
