using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using NetMQ;
using ZmqAspire.Testing.Sshd;

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
/// dedicated login user with a random password (one per machine, <see cref="LoginUser.EnsurePassword"/>), listening on 127.0.0.1 only. Needs root
/// (it creates the user and runs sshd, which needs root for privilege separation).
/// </summary>
public class SshdFixture : IDisposable
{
    public const string User = "zmqaspire-test";
    public const string Loopback = "127.0.0.1";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _authorizedKeysDirectory;
    private readonly Dictionary<ClientKey, string> _keys = [];
    private readonly SshdProcess _sshd;
    private readonly IReadOnlyList<string> _extraConfig;

    public SshdFixture()
        : this([])
    {
    }

    /// <summary>Starts sshd with <paramref name="extraConfig"/> lines added to the test configuration.</summary>
    protected SshdFixture(IReadOnlyList<string> extraConfig)
    {
        _extraConfig = extraConfig;
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException(
                $"The tunnelling tests must run as root on Linux: they create the login user '{User}' and start a real sshd, which needs root. Run 'dotnet test' as root (as CI does).");
        }

        foreach (var tool in new[] { SshdProcess.SshdPath, SshKeygen.Path, "/usr/sbin/useradd", "/usr/sbin/chpasswd", "/usr/bin/ss" })
        {
            if (!File.Exists(tool))
            {
                throw new InvalidOperationException($"'{tool}' is missing: install openssh-server, openssh-client, passwd and iproute2.");
            }
        }

        Directory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-sshd-").FullName;
        File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        LoginUser.Ensure(User);
        // One password for the login user on this machine: a second fixture, or a second test
        // process, must not change it under the first one's tests.
        Password = LoginUser.EnsurePassword(User);

        // sshd reads authorized_keys as the login user, who cannot enter the root-only 0700
        // directory: the file lives in a second 0700 directory owned by that user.
        _authorizedKeysDirectory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-authkeys-").FullName;
        File.SetUnixFileMode(_authorizedKeysDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        HostKeyPath = Path.Combine(Directory, "ssh_host_ed25519_key");
        GenerateKey(HostKeyPath, "ed25519", bits: null, passphrase: string.Empty);
        (HostKeyType, HostKeyBase64) = SshKeygen.ReadPublicKey(HostKeyPath + ".pub");
        HostKeyFingerprint = SshKeygen.Fingerprint(HostKeyPath + ".pub");
        var computed = HostKeyPolicy.Fingerprint(Convert.FromBase64String(HostKeyBase64));
        if (computed != HostKeyFingerprint)
        {
            throw new InvalidOperationException(
                $"ssh-keygen says the host key is {HostKeyFingerprint} but HostKeyPolicy.Fingerprint computes {computed}.");
        }

        // A host key sshd never uses: what a re-keyed server or an impostor would present.
        var otherHostKey = Path.Combine(Directory, "other_host_ed25519_key");
        GenerateKey(otherHostKey, "ed25519", bits: null, passphrase: string.Empty);
        OtherHostKeyBase64 = SshKeygen.ReadPublicKey(otherHostKey + ".pub").Base64;
        OtherHostKeyFingerprint = SshKeygen.Fingerprint(otherHostKey + ".pub");

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
        _sshd = new SshdProcess(ConfigPath, LogPath, port => Config(port, authorizedKeys), StartTimeout);
        _sshd.Start();
        Port = _sshd.Port;

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
    public string KeyFingerprint(ClientKey key) => SshKeygen.Fingerprint(KeyPath(key) + ".pub");

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
    public string LogTail(int lines = 30) => _sshd.Tail(lines);

    /// <summary>Gets the id of the listening sshd process (0 when it is not running).</summary>
    public int ListenerPid => _sshd.Pid;

    /// <summary>Gets the ids of the processes sshd forked for its connections (one or two per session).</summary>
    public IReadOnlyList<int> SessionProcesses()
    {
        var parent = _sshd.Pid;
        if (parent == 0)
        {
            throw new InvalidOperationException("sshd is not running");
        }

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
    public void Restart(TimeSpan down) => _sshd.Restart(down);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        // Also ends the per-connection children sshd forked.
        _sshd.Dispose();
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


    private static string GenerateKey(string path, string type, int? bits, string passphrase) =>
        SshKeygen.Generate(path, type, bits, passphrase, $"zmqaspire-test {Path.GetFileName(path)}");

    private string Config(int port, string authorizedKeys) =>
        string.Join('\n', (string[])[
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
            .. _extraConfig,
            string.Empty]);
}
