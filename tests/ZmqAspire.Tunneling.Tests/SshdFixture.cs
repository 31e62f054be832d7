using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using NetMQ;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>The tests that share one real sshd; xunit runs them one after another.</summary>
[CollectionDefinition(Name)]
public sealed class SshdCollection : ICollectionFixture<SshdFixture>
{
    public const string Name = "OpenSSH sshd";
}

/// <summary>The client keys the fixture makes; all but <see cref="Unauthorized"/> are in authorized_keys.</summary>
public enum ClientKey
{
    Ed25519,
    Ecdsa,
    Rsa,
    EncryptedEd25519,
    Unauthorized,
}

/// <summary>
/// A real OpenSSH sshd for one test run: fresh host and client keys in a 0700 temp directory, a
/// dedicated login user with a fresh random password, listening on 127.0.0.1 only. Needs root
/// (it creates the user and runs sshd, which needs root for privilege separation).
/// </summary>
public sealed class SshdFixture : IDisposable
{
    public const string User = "zmqaspire-test";
    public const string Loopback = "127.0.0.1";
    private const string SshdPath = "/usr/sbin/sshd";
    private const string SshKeygenPath = "/usr/bin/ssh-keygen";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _authorizedKeysDirectory;
    private readonly StringBuilder _processOutput = new();
    private readonly Dictionary<ClientKey, string> _keys = [];
    private Process? _sshd;

    public SshdFixture()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException(
                $"The tunnelling tests must run as root on Linux: they create the login user '{User}' and start a real sshd, which needs root. Run 'dotnet test' as root (as CI does).");
        }

        foreach (var tool in new[] { SshdPath, SshKeygenPath, "/usr/sbin/useradd", "/usr/sbin/chpasswd", "/usr/bin/ss" })
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"'{tool}' is missing: install openssh-server, openssh-client, passwd and iproute2.");
            }
        }

        Directory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-sshd-").FullName;
        File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        EnsureUser();
        Password = Convert.ToHexString(RandomNumberGenerator.GetBytes(18));
        // chpasswd reads "user:password" from stdin; the password never appears on a command line.
        ProcessRunner.RunChecked("/usr/sbin/chpasswd", [], $"{User}:{Password}\n");

        // sshd reads authorized_keys as the login user, who cannot enter the root-only 0700
        // directory: the file lives in a second 0700 directory owned by that user.
        _authorizedKeysDirectory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-authkeys-").FullName;
        File.SetUnixFileMode(_authorizedKeysDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        HostKeyPath = Path.Combine(Directory, "ssh_host_ed25519_key");
        GenerateKey(HostKeyPath, "ed25519", bits: null, passphrase: string.Empty);
        var hostPub = File.ReadAllText(HostKeyPath + ".pub").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        HostKeyType = hostPub[0];
        HostKeyBase64 = hostPub[1];
        HostKeyFingerprint = KeygenFingerprint(HostKeyPath + ".pub");
        var computed = HostKeyPolicy.Fingerprint(Convert.FromBase64String(HostKeyBase64));
        if (computed != HostKeyFingerprint)
        {
            throw new InvalidOperationException(
                $"ssh-keygen says the host key is {HostKeyFingerprint} but HostKeyPolicy.Fingerprint computes {computed}.");
        }

        // A host key sshd never uses: what a re-keyed server or an impostor would present.
        var otherHostKey = Path.Combine(Directory, "other_host_ed25519_key");
        GenerateKey(otherHostKey, "ed25519", bits: null, passphrase: string.Empty);
        OtherHostKeyBase64 = File.ReadAllText(otherHostKey + ".pub").Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        OtherHostKeyFingerprint = KeygenFingerprint(otherHostKey + ".pub");

        Passphrase = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        _keys[ClientKey.Ed25519] = GenerateKey(Path.Combine(Directory, "id_ed25519"), "ed25519", null, string.Empty);
        _keys[ClientKey.Ecdsa] = GenerateKey(Path.Combine(Directory, "id_ecdsa"), "ecdsa", 256, string.Empty);
        _keys[ClientKey.Rsa] = GenerateKey(Path.Combine(Directory, "id_rsa"), "rsa", 3072, string.Empty);
        _keys[ClientKey.EncryptedEd25519] = GenerateKey(Path.Combine(Directory, "id_ed25519_encrypted"), "ed25519", null, Passphrase);
        _keys[ClientKey.Unauthorized] = GenerateKey(Path.Combine(Directory, "id_ed25519_unauthorized"), "ed25519", null, string.Empty);

        var authorizedKeys = Path.Combine(_authorizedKeysDirectory, "authorized_keys");
        File.WriteAllLines(authorizedKeys, _keys
            .Where(k => k.Key != ClientKey.Unauthorized)
            .Select(k => File.ReadAllText(k.Value + ".pub").Trim()));
        ProcessRunner.RunChecked("/usr/bin/chown", ["-R", $"{User}:", _authorizedKeysDirectory]);

        LogPath = Path.Combine(Directory, "sshd.log");
        ConfigPath = Path.Combine(Directory, "sshd_config");
        Port = StartSshd(authorizedKeys);

        KnownHostsPath = WriteFile("known_hosts", KnownHostsLine(Loopback, Port, HostKeyType, HostKeyBase64) + "\n");
    }

    /// <summary>Gets the fixture's 0700 temp directory (keys, config, logs).</summary>
    public string Directory { get; }

    /// <summary>Gets the port sshd listens on, on 127.0.0.1.</summary>
    public int Port { get; }

    public string ConfigPath { get; }

    /// <summary>Gets the file sshd writes its (VERBOSE) log to.</summary>
    public string LogPath { get; }

    public string HostKeyPath { get; }

    /// <summary>Gets the host key algorithm, <c>ssh-ed25519</c>.</summary>
    public string HostKeyType { get; }

    /// <summary>Gets the base64 public host key blob, as in a known_hosts line.</summary>
    public string HostKeyBase64 { get; }

    /// <summary>Gets the host key fingerprint, <c>SHA256:...</c> (ssh-keygen and HostKeyPolicy.Fingerprint agree).</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>Gets a second ed25519 public key that sshd does not have.</summary>
    public string OtherHostKeyBase64 { get; }

    public string OtherHostKeyFingerprint { get; }

    /// <summary>Gets a known_hosts file with the line <c>[127.0.0.1]:PORT ssh-ed25519 AAAA...</c>.</summary>
    public string KnownHostsPath { get; }

    /// <summary>Gets the passphrase of <see cref="ClientKey.EncryptedEd25519"/>.</summary>
    public string Passphrase { get; }

    /// <summary>Gets the login user's password, fresh for this run.</summary>
    public string Password { get; }

    public SshServerAddress Server => new(User, Loopback, Port);

    /// <summary>Gets the path of a client private key.</summary>
    public string KeyPath(ClientKey key) => _keys[key];

    /// <summary>Gets a client key's SHA-256 fingerprint, as sshd logs it on login.</summary>
    public string KeyFingerprint(ClientKey key) => KeygenFingerprint(KeyPath(key) + ".pub");

    /// <summary>Options that log in with one of the fixture's keys (with its passphrase if it has one).</summary>
    public SshTunnelOptions Options(ClientKey key, HostKeyPolicy? hostKey = null, TimeSpan? connectTimeout = null) =>
        Options(KeyPath(key), key == ClientKey.EncryptedEd25519 ? Passphrase : null, password: null, hostKey, connectTimeout);

    /// <summary>
    /// Options for the fixture's sshd. The host key is pinned to the real fingerprint unless
    /// <paramref name="hostKey"/> says otherwise. Pass a null key and a password for password login.
    /// </summary>
    public SshTunnelOptions Options(
        string? privateKeyPath, string? passphrase = null, string? password = null, HostKeyPolicy? hostKey = null, TimeSpan? connectTimeout = null) =>
        new()
        {
            Server = Server,
            HostKey = hostKey ?? HostKeyPolicy.Pinned(HostKeyFingerprint),
            PrivateKeyPath = privateKeyPath,
            PrivateKeyPassphrase = passphrase,
            Password = password,
            ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(20),
        };

    public static string KnownHostsLine(string host, int port, string keyType, string base64) =>
        string.Create(CultureInfo.InvariantCulture, $"[{host}]:{port} {keyType} {base64}");

    /// <summary>Writes a file in the fixture's directory and returns its path.</summary>
    public string WriteFile(string name, string content)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>Gets the current length of sshd's log, to read what it logs from now on.</summary>
    public long LogPosition() => new FileInfo(LogPath).Length;

    /// <summary>Reads sshd's log from <paramref name="position"/> on.</summary>
    public string LogSince(long position)
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        stream.Seek(Math.Min(position, stream.Length), SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Waits until sshd has logged <paramref name="count"/> lines containing <paramref name="text"/>
    /// since <paramref name="position"/> (it logs from another process, so not always before the
    /// client sees the result), and returns how many there are.
    /// </summary>
    public async Task<int> WaitForLogLinesAsync(long position, string text, int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var found = CountLines(LogSince(position), text);
            if (found >= count || deadline.Elapsed > timeout)
            {
                return found;
            }

            await Task.Delay(50);
        }
    }

    public static int CountLines(string log, string text) =>
        log.Split('\n').Count(line => line.Contains(text, StringComparison.Ordinal));

    /// <summary>Gets the last lines of sshd's log and console output, for assertion messages.</summary>
    public string LogTail(int lines = 30)
    {
        string log;
        try
        {
            log = LogSince(0);
        }
        catch (IOException ex)
        {
            log = $"(no log: {ex.Message})";
        }

        string console;
        lock (_processOutput)
        {
            console = _processOutput.ToString();
        }

        var tail = string.Join('\n', log.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines));
        return $"\n--- sshd log tail ({LogPath}) ---\n{tail}\n--- sshd console ---\n{console}\n---";
    }

    /// <summary>Gets the ids of the processes sshd forked for its connections (one or two per session).</summary>
    public IReadOnlyList<int> SessionProcesses()
    {
        var parent = _sshd?.Id ?? throw new InvalidOperationException("sshd is not running");
        return [.. ProcFs.ParentIds().Where(p => p.Value == parent).Select(p => p.Key)];
    }

    /// <summary>SIGKILLs the processes sshd forked for its connections: every session drops as if the server vanished, sshd keeps listening.</summary>
    public void KillSessions()
    {
        foreach (var pid in SessionProcesses())
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

    /// <summary>Stops sshd with its sessions, and starts it again on the same port with the same keys.</summary>
    /// <param name="down">How long nothing listens on the port.</param>
    public void Restart(TimeSpan down)
    {
        _sshd!.Kill(entireProcessTree: true);
        _sshd.WaitForExit(10_000);
        _sshd.Dispose();
        Thread.Sleep(down);
        _sshd = StartProcess();
        if (WaitForBanner(Port) is null)
        {
            throw new InvalidOperationException($"sshd did not come back on port {Port}:{LogTail()}");
        }
    }

    public void Dispose()
    {
        if (_sshd is not null)
        {
            try
            {
                if (!_sshd.HasExited)
                {
                    // Also ends the per-connection children sshd forked.
                    _sshd.Kill(entireProcessTree: true);
                    _sshd.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            _sshd.Dispose();
        }

        NetMQConfig.Cleanup(block: false);
        TryDelete(Directory);
        TryDelete(_authorizedKeysDirectory);
    }

    private static void TryDelete(string? directory)
    {
        try
        {
            if (directory is not null && System.IO.Directory.Exists(directory))
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // Leave it for the OS temp cleaner.
        }
    }

    private static void EnsureUser()
    {
        if (ProcessRunner.Run("/usr/bin/id", ["-u", User]).ExitCode == 0)
        {
            return;
        }

        var result = ProcessRunner.Run("/usr/sbin/useradd", ["--system", "--shell", "/usr/sbin/nologin", "--create-home", User]);
        // 9: the user exists (another run created it in between).
        if (result.ExitCode is not 0 and not 9)
        {
            throw new InvalidOperationException($"useradd {User} failed ({result.ExitCode}): {result.StandardError}");
        }
    }

    private static string GenerateKey(string path, string type, int? bits, string passphrase)
    {
        List<string> arguments = ["-q", "-t", type, "-N", passphrase, "-C", $"zmqaspire-test {Path.GetFileName(path)}", "-f", path];
        if (bits is not null)
        {
            arguments.InsertRange(0, ["-b", bits.Value.ToString(CultureInfo.InvariantCulture)]);
        }

        ProcessRunner.RunChecked(SshKeygenPath, arguments);
        return path;
    }

    /// <summary><c>ssh-keygen -lf FILE -E sha256</c> prints "256 SHA256:xxx comment (ED25519)".</summary>
    private static string KeygenFingerprint(string publicKeyPath)
    {
        var output = ProcessRunner.RunChecked(SshKeygenPath, ["-lf", publicKeyPath, "-E", "sha256"]).StandardOutput;
        return output.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
    }

    [SupportedOSPlatform("linux")]
    private int StartSshd(string authorizedKeys)
    {
        // sshd's privilege separation needs its empty chroot directory.
        System.IO.Directory.CreateDirectory("/run/sshd");
        File.SetUnixFileMode("/run/sshd",
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        var failures = new StringBuilder();
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            // Bind to port 0 and release it: only sshd takes the port, so the short race is acceptable.
            var port = TestNet.FreePort();
            File.WriteAllText(ConfigPath, Config(port, authorizedKeys));
            var check = ProcessRunner.Run(SshdPath, ["-t", "-f", ConfigPath]);
            if (check.ExitCode != 0)
            {
                throw new InvalidOperationException($"sshd -t rejects the test config {ConfigPath}: {check.StandardError}");
            }

            if (File.Exists(LogPath))
            {
                File.Delete(LogPath);
            }

            _sshd = StartProcess();
            var banner = WaitForBanner(port);
            if (banner is not null)
            {
                return port;
            }

            failures.Append(CultureInfo.InvariantCulture, $"attempt {attempt} on port {port}:{LogTail()}\n");
            if (!_sshd.HasExited)
            {
                _sshd.Kill(entireProcessTree: true);
            }

            _sshd.WaitForExit(10_000);
            _sshd.Dispose();
            _sshd = null;
            var log = File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;
            if (!log.Contains("Bind to port", StringComparison.Ordinal) && !log.Contains("Address already in use", StringComparison.Ordinal))
            {
                break; // not a port clash: retrying will not help
            }
        }

        throw new InvalidOperationException($"sshd did not start and send an SSH-2.0 banner:\n{failures}");
    }

    private Process StartProcess()
    {
        // -D: stay in the foreground as our child; -e with -E: log to the file instead of syslog.
        var info = new ProcessStartInfo(SshdPath);
        foreach (var argument in new[] { "-D", "-e", "-E", LogPath, "-f", ConfigPath })
        {
            info.ArgumentList.Add(argument);
        }

        var process = ProcessRunner.StartCapturing(info, _processOutput);
        return process;
    }

    /// <summary>Waits until sshd accepts a TCP connection and sends its identification string.</summary>
    private string? WaitForBanner(int port)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartTimeout && _sshd is { HasExited: false })
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(new IPEndPoint(IPAddress.Loopback, port));
                client.ReceiveTimeout = 5_000;
                using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
                var line = reader.ReadLine();
                if (line is not null && line.StartsWith("SSH-2.0-", StringComparison.Ordinal))
                {
                    return line;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                // Not listening yet.
            }

            Thread.Sleep(100);
        }

        return null;
    }

    private string Config(int port, string authorizedKeys) =>
        string.Join('\n',
            "# Test sshd of ZmqAspire.Tunneling.Tests: loopback only, one user, local forwards only.",
            $"Port {port.ToString(CultureInfo.InvariantCulture)}",
            $"ListenAddress {Loopback}",
            $"HostKey {HostKeyPath}",
            $"PidFile {Path.Combine(Directory, "sshd.pid")}",
            $"AuthorizedKeysFile {authorizedKeys}",
            "UsePAM no",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            // Remote forwards (ssh -R) too, for the reverse tunnel tests: listening on loopback only.
            "AllowTcpForwarding yes",
            "GatewayPorts no",
            $"PermitListen {Loopback}:*",
            "PermitOpen any",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            $"AllowUsers {User}",
            "LogLevel VERBOSE",
            string.Empty);
}
