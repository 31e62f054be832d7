using System.Globalization;
using System.Security.Cryptography;
using NetMQ;

namespace ZmqAspire.TunnelCli.Tests;

/// <summary>The tests that share one real sshd; xunit runs them one after another.</summary>
[CollectionDefinition(Name)]
public sealed class CliSshdCollection : ICollectionFixture<CliSshdFixture>
{
    public const string Name = "zmq-tunnel against OpenSSH sshd";
}

/// <summary>
/// A real OpenSSH sshd for the zmq-tunnel tests: fresh host and client keys in a 0700 temp
/// directory, its own login user (so it never races the library tests' fixture), listening on
/// 127.0.0.1 only, local forwards only. Needs root, as sshd's privilege separation does.
/// </summary>
public sealed class CliSshdFixture : IDisposable
{
    public const string User = "zmqaspire-cli";
    public const string Loopback = "127.0.0.1";

    private readonly string _authorizedKeysDirectory;
    private readonly SshdProcess _sshd;

    public CliSshdFixture()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException($"The zmq-tunnel tests must run as root on Linux: they create the login user '{User}' and start a real sshd.");
        }

        Directory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-cli-sshd-").FullName;
        File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        LoginUser.Ensure(User);
        Password = Convert.ToHexString(RandomNumberGenerator.GetBytes(18));
        ProcessRunner.RunChecked("/usr/sbin/chpasswd", [], $"{User}:{Password}\n");

        // sshd reads authorized_keys as the login user: a 0700 directory that user owns.
        _authorizedKeysDirectory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-cli-authkeys-").FullName;
        HostKeyPath = SshKeygen.Generate(Path.Combine(Directory, "ssh_host_ed25519_key"), "ed25519", null, string.Empty, "zmq-tunnel test host");
        HostKeyFingerprint = SshKeygen.Fingerprint(HostKeyPath + ".pub");
        var (type, base64) = SshKeygen.ReadPublicKey(HostKeyPath + ".pub");
        var other = SshKeygen.Generate(Path.Combine(Directory, "other_host_key"), "ed25519", null, string.Empty, "not the host key");
        OtherHostKeyFingerprint = SshKeygen.Fingerprint(other + ".pub");
        KeyPath = SshKeygen.Generate(Path.Combine(Directory, "id_ed25519"), "ed25519", null, string.Empty, "zmq-tunnel test client");
        EncryptedKeyPassphrase = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        EncryptedKeyPath = SshKeygen.Generate(Path.Combine(Directory, "id_encrypted"), "ed25519", null, EncryptedKeyPassphrase, "zmq-tunnel test client, encrypted");
        UnauthorizedKeyPath = SshKeygen.Generate(Path.Combine(Directory, "id_unauthorized"), "ed25519", null, string.Empty, "not authorized");
        var authorizedKeys = Path.Combine(_authorizedKeysDirectory, "authorized_keys");
        File.WriteAllText(authorizedKeys, File.ReadAllText(KeyPath + ".pub") + File.ReadAllText(EncryptedKeyPath + ".pub"));
        ProcessRunner.RunChecked("/usr/bin/chown", ["-R", $"{User}:", _authorizedKeysDirectory]);

        LogPath = Path.Combine(Directory, "sshd.log");
        _sshd = new SshdProcess(Path.Combine(Directory, "sshd_config"), LogPath, port => Config(port, authorizedKeys), TimeSpan.FromSeconds(30));
        _sshd.Start();
        Port = _sshd.Port;
        KnownHostsPath = Path.Combine(Directory, "known_hosts");
        File.WriteAllText(KnownHostsPath, string.Create(CultureInfo.InvariantCulture, $"[{Loopback}]:{Port} {type} {base64}\n"));
    }

    public string Directory { get; }

    public int Port { get; }

    public string LogPath { get; }

    public string HostKeyPath { get; }

    public string HostKeyFingerprint { get; }

    /// <summary>Gets the fingerprint of a key sshd does not have: what an impostor would present.</summary>
    public string OtherHostKeyFingerprint { get; }

    /// <summary>Gets the client key in authorized_keys.</summary>
    public string KeyPath { get; }

    /// <summary>Gets a passphrase-protected client key in authorized_keys.</summary>
    public string EncryptedKeyPath { get; }

    /// <summary>Gets the passphrase of <see cref="EncryptedKeyPath"/> (made per run).</summary>
    public string EncryptedKeyPassphrase { get; }

    /// <summary>Gets a client key sshd does not accept.</summary>
    public string UnauthorizedKeyPath { get; }

    public string KnownHostsPath { get; }

    public string Password { get; }

    /// <summary>Gets <c>user@127.0.0.1:port</c>, zmq-tunnel's first argument.</summary>
    public string Server => string.Create(CultureInfo.InvariantCulture, $"{User}@{Loopback}:{Port}");

    /// <summary>Gets the ids of the processes sshd forked for its connections.</summary>
    public IReadOnlyList<int> SessionProcesses()
    {
        var parent = _sshd.Pid;
        return parent == 0 ? [] : [.. ProcFs.ParentIds().Where(p => p.Value == parent).Select(p => p.Key)];
    }

    /// <summary>Stops sshd with its sessions and starts it again on the same port with the same keys.</summary>
    public void Restart(TimeSpan down) => _sshd.Restart(down);

    public string LogTail(int lines = 30) => _sshd.Tail(lines);

    public void Dispose()
    {
        _sshd.Dispose();
        NetMQConfig.Cleanup(block: false);
        foreach (var directory in new[] { Directory, _authorizedKeysDirectory })
        {
            try
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS temp cleaner.
            }
        }
    }


    private string Config(int port, string authorizedKeys) =>
        string.Join('\n',
            "# Test sshd of ZmqAspire.TunnelCli.Tests: loopback only, one user, local forwards only.",
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
            "AllowTcpForwarding local",
            // Forwards reach loopback only: no test traffic leaves the machine.
            $"PermitOpen {Loopback}:*",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            $"AllowUsers {User}",
            "LogLevel VERBOSE",
            string.Empty);
}
