using System.Globalization;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>The tests that share one <see cref="TunnelSshd"/>; xunit runs them one after another.</summary>
[CollectionDefinition(Name)]
public sealed class TunnelSshdCollection : ICollectionFixture<TunnelSshd>
{
    public const string Name = "SshTunnel sshd";
}

/// <summary>
/// The bastion of these tests: a real OpenSSH sshd on 127.0.0.1 with a fresh host key, one login
/// user (<see cref="User"/>) with a fresh ed25519 client key, local forwards to 127.0.0.1 only.
/// Needs root.
/// </summary>
public sealed class TunnelSshd : IDisposable
{
    public const string User = "zmqaspire-sshtunnel";
    private const string Loopback = "127.0.0.1";

    private readonly string _authorizedKeysDirectory;
    private readonly SshdProcess _sshd;

    public TunnelSshd()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException(
                $"These tests must run as root on Linux: they create the login user '{User}' and start a real sshd. Run 'dotnet test' as root (as CI does).");
        }

        Directory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-sshtunnel-").FullName;
        File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        LoginUser.Ensure(User);
        // useradd leaves the account locked ('!'), and sshd without PAM refuses key logins to a
        // locked account; '*' unlocks it with no password that could ever match.
        ProcessRunner.RunChecked("/usr/sbin/usermod", ["-p", "*", User]);

        var hostKey = SshKeygen.Generate(Path.Combine(Directory, "ssh_host_ed25519_key"), "ed25519", null, string.Empty, "zmqaspire-sshtunnel host");
        HostKeyFingerprint = SshKeygen.Fingerprint(hostKey + ".pub");
        var otherHostKey = SshKeygen.Generate(Path.Combine(Directory, "other_host_ed25519_key"), "ed25519", null, string.Empty, "a key sshd does not have");
        OtherHostKeyFingerprint = SshKeygen.Fingerprint(otherHostKey + ".pub");
        KeyPath = SshKeygen.Generate(Path.Combine(Directory, "id_ed25519"), "ed25519", null, string.Empty, "zmqaspire-sshtunnel client");

        // sshd reads authorized_keys as the login user, who cannot enter the root-only directory.
        _authorizedKeysDirectory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-sshtunnel-authkeys-").FullName;
        var authorizedKeys = Path.Combine(_authorizedKeysDirectory, "authorized_keys");
        File.WriteAllText(authorizedKeys, File.ReadAllText(KeyPath + ".pub"));
        ProcessRunner.RunChecked("/usr/bin/chown", ["-R", $"{User}:", _authorizedKeysDirectory]);

        _sshd = new SshdProcess(Path.Combine(Directory, "sshd_config"), Path.Combine(Directory, "sshd.log"),
            port => Config(port, hostKey, authorizedKeys), TimeSpan.FromSeconds(30));
        _sshd.Start();
        Port = _sshd.Port;

        var (type, base64) = SshKeygen.ReadPublicKey(hostKey + ".pub");
        KnownHostsPath = Path.Combine(Directory, "known_hosts");
        File.WriteAllText(KnownHostsPath, string.Create(CultureInfo.InvariantCulture, $"[{Loopback}]:{Port} {type} {base64}\n"));
    }

    /// <summary>Gets the fixture's 0700 temp directory (keys, config, log).</summary>
    public string Directory { get; }

    /// <summary>Gets sshd's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Gets the bastion as the connection string names it, <c>user@127.0.0.1:port</c>.</summary>
    public string SshServer => string.Create(CultureInfo.InvariantCulture, $"{User}@{Loopback}:{Port}");

    /// <summary>Gets sshd's host key fingerprint, <c>SHA256:...</c>.</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>Gets the fingerprint of an ed25519 host key sshd does not have: what an impostor would present.</summary>
    public string OtherHostKeyFingerprint { get; }

    /// <summary>Gets a known_hosts file naming sshd's host key as <c>[127.0.0.1]:PORT</c>, as ssh writes it.</summary>
    public string KnownHostsPath { get; }

    /// <summary>Gets the client's private key (ed25519, no passphrase).</summary>
    public string KeyPath { get; }

    /// <summary>The connection string the AppHost would emit for <paramref name="remoteEndpoints"/> (comma-separated).</summary>
    public string ConnectionString(string remoteEndpoints, string? hostKeyFingerprint = null) =>
        $"SshServer={SshServer};HostKeyFingerprint={hostKeyFingerprint ?? HostKeyFingerprint};RemoteEndpoint={remoteEndpoints};PrivateKeyPath={KeyPath}";

    /// <summary>Stops sshd with its sessions, waits <paramref name="down"/>, and starts it again on the same port.</summary>
    public void Restart(TimeSpan down) => _sshd.Restart(down);

    /// <summary>Gets the last lines of sshd's log, for failure messages.</summary>
    public string LogTail() => _sshd.Tail();

    public void Dispose()
    {
        _sshd.Dispose();
        NetMQ.NetMQConfig.Cleanup(block: false);
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

    private string Config(int port, string hostKey, string authorizedKeys) =>
        string.Join('\n',
            "# sshd of ZmqAspire.SshTunnel.Tests: loopback only, one user, key login, forwards to loopback only.",
            $"Port {port.ToString(CultureInfo.InvariantCulture)}",
            $"ListenAddress {Loopback}",
            $"HostKey {hostKey}",
            $"PidFile {Path.Combine(Directory, "sshd.pid")}",
            $"AuthorizedKeysFile {authorizedKeys}",
            "UsePAM no",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            "AllowTcpForwarding yes",
            "GatewayPorts no",
            "PermitListen none",
            $"PermitOpen {Loopback}:*",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            $"AllowUsers {User}",
            "LogLevel VERBOSE",
            string.Empty);
}
