using System.Globalization;

namespace ZmqAspire.Docs.Tests;

/// <summary>The tests that share one <see cref="DocsSshd"/>; xunit runs them one after another.</summary>
[CollectionDefinition(Name)]
public sealed class DocsCollection : ICollectionFixture<DocsSshd>
{
    public const string Name = "docs samples";
}

/// <summary>
/// The loopback stand-in for the docs' bastion: a real OpenSSH sshd on 127.0.0.1 with a fresh
/// host key, one login user (<see cref="User"/>) with a fresh client key, local forwards to
/// 127.0.0.1 only and remote forwards on its loopback only (<c>GatewayPorts no</c>), so no
/// sample sends anything off this machine. Also a throw-away home for the Python and shell
/// samples: an OpenSSH client config that checks the host key strictly. Needs root.
/// </summary>
public sealed class DocsSshd : IDisposable
{
    public const string User = "zmqaspire-docs";
    private const string Loopback = "127.0.0.1";

    private readonly string _authorizedKeysDirectory;
    private readonly SshdProcess _sshd;

    public DocsSshd()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException(
                $"The docs tests must run as root on Linux: they create the login user '{User}' and start a real sshd. Run 'dotnet test' as root (as CI does).");
        }

        Directory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-docs-").FullName;
        File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        LoginUser.Ensure(User);

        // useradd leaves the account locked ('!'), and sshd without PAM refuses key logins to a
        // locked account; '*' unlocks it with no password that could ever match.
        ProcessRunner.RunChecked("/usr/sbin/usermod", ["-p", "*", User]);

        var hostKey = SshKeygen.Generate(Path.Combine(Directory, "ssh_host_ed25519_key"), "ed25519", null, string.Empty, "zmqaspire-docs host");
        HostKeyFingerprint = SshKeygen.Fingerprint(hostKey + ".pub");
        var clientKey = SshKeygen.Generate(Path.Combine(Directory, "id_ed25519"), "ed25519", null, string.Empty, "zmqaspire-docs client");

        // sshd reads authorized_keys as the login user, who cannot enter the root-only directory.
        _authorizedKeysDirectory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-docs-authkeys-").FullName;
        var authorizedKeys = Path.Combine(_authorizedKeysDirectory, "authorized_keys");
        File.WriteAllText(authorizedKeys, File.ReadAllText(clientKey + ".pub"));
        ProcessRunner.RunChecked("/usr/bin/chown", ["-R", $"{User}:", _authorizedKeysDirectory]);

        _sshd = new SshdProcess(Path.Combine(Directory, "sshd_config"), Path.Combine(Directory, "sshd.log"),
            port => Config(port, hostKey, authorizedKeys), TimeSpan.FromSeconds(30));
        _sshd.Start();
        Port = _sshd.Port;

        // The samples' reader: a local user whose ~/.ssh holds the host key and the client key,
        // nothing else (OpenSSH reads ~/.ssh from the passwd entry, so a real account it is).
        Client = LocalAccount.Create();
        var (type, base64) = SshKeygen.ReadPublicKey(hostKey + ".pub");
        Client.TrustHostKey(Loopback, Port, $"{type} {base64}");
        KnownHostsPath = Path.Combine(Client.Home, ".ssh", "known_hosts");
        KeyPath = Client.InstallIdentity(clientKey);
    }

    /// <summary>Gets the fixture's 0700 temp directory (keys, config, log, client home).</summary>
    public string Directory { get; }

    /// <summary>Gets sshd's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Gets sshd's host key fingerprint, <c>SHA256:...</c>.</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>Gets the client's private key (ed25519, no passphrase, 0600).</summary>
    public string KeyPath { get; }

    /// <summary>Gets a known_hosts file naming sshd's host key as <c>[127.0.0.1]:PORT</c>.</summary>
    public string KnownHostsPath { get; }

    /// <summary>
    /// Gets the local user the Python and shell samples run as: its <c>~/.ssh/known_hosts</c>
    /// names sshd's host key and its <c>~/.ssh/id_ed25519</c> is the client key, so pyzmq, paramiko
    /// and ssh run as they are, with no option or wrapper added.
    /// </summary>
    public LocalAccount Client { get; }

    /// <summary>Gets the last lines of sshd's log, for failure messages.</summary>
    public string LogTail() => _sshd.Tail();

    public void Dispose()
    {
        // Also ends the sessions, and with them any ssh a Python sample forked (pyzmq's ssh -f).
        _sshd.Dispose();
        Client.Dispose();
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
            "# sshd of ZmqAspire.Docs.Tests: loopback only, one user, key login, forwards to loopback only.",
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
            // A sample may ask for any listen address ("*" included): sshd still listens on its loopback only.
            "GatewayPorts no",
            "PermitListen any",
            $"PermitOpen {Loopback}:*",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            $"AllowUsers {User}",
            "LogLevel VERBOSE",
            string.Empty);
}
