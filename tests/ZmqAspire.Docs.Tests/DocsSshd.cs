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
        if (ProcessRunner.Run("/usr/bin/id", ["-u", User]).ExitCode != 0)
        {
            // 9: another run created it in between.
            var added = ProcessRunner.Run("/usr/sbin/useradd", ["--system", "--shell", "/usr/sbin/nologin", "--create-home", User]);
            if (added.ExitCode is not 0 and not 9)
            {
                throw new InvalidOperationException($"useradd {User} failed ({added.ExitCode}): {added.StandardError}");
            }
        }

        // useradd leaves the account locked ('!'), and sshd without PAM refuses key logins to a
        // locked account; '*' unlocks it with no password that could ever match.
        ProcessRunner.RunChecked("/usr/sbin/usermod", ["-p", "*", User]);

        var hostKey = SshKeygen.Generate(Path.Combine(Directory, "ssh_host_ed25519_key"), "ed25519", null, string.Empty, "zmqaspire-docs host");
        HostKeyFingerprint = SshKeygen.Fingerprint(hostKey + ".pub");
        KeyPath = SshKeygen.Generate(Path.Combine(Directory, "id_ed25519"), "ed25519", null, string.Empty, "zmqaspire-docs client");

        // sshd reads authorized_keys as the login user, who cannot enter the root-only directory.
        _authorizedKeysDirectory = System.IO.Directory.CreateTempSubdirectory("zmqaspire-docs-authkeys-").FullName;
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
        ClientEnvironment = ClientHome();
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

    /// <summary>Gets the environment of the Python and shell samples (HOME, PATH with the strict <c>ssh</c> wrapper).</summary>
    public IReadOnlyDictionary<string, string?> ClientEnvironment { get; }

    /// <summary>Gets the last lines of sshd's log, for failure messages.</summary>
    public string LogTail() => _sshd.Tail();

    public void Dispose()
    {
        // Also ends the sessions, and with them any ssh a Python sample forked (pyzmq's ssh -f).
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

    /// <summary>
    /// ssh reads its config from the passwd home, not HOME, and pyzmq passes no <c>-F</c>: an
    /// <c>ssh</c> wrapper first on PATH passes ours (as tests/ZmqAspire.Deployment.Tests does).
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private Dictionary<string, string?> ClientHome()
    {
        var home = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "home")).FullName;
        // paramiko (pyzmq's paramiko=True) reads ~/.ssh through HOME: the same known host and key there.
        var dotSsh = System.IO.Directory.CreateDirectory(Path.Combine(home, ".ssh")).FullName;
        File.Copy(KnownHostsPath, Path.Combine(dotSsh, "known_hosts"));
        File.Copy(KeyPath, Path.Combine(dotSsh, "id_ed25519"));
        File.SetUnixFileMode(Path.Combine(dotSsh, "id_ed25519"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var config = Path.Combine(home, "ssh_config");
        File.WriteAllText(config, $"""
            Host *
              UserKnownHostsFile {KnownHostsPath}
              GlobalKnownHostsFile /dev/null
              StrictHostKeyChecking yes
              BatchMode yes
              IdentitiesOnly yes
              # The key a reader's ssh would use by default (~/.ssh/id_ed25519), for `ssh -L` samples without -i.
              IdentityFile {KeyPath}
              ControlPath none
              # pyzmq asks for "sleep N"; the forward is all a sample needs.
              SessionType none
              ExitOnForwardFailure yes
              ServerAliveInterval 5
              ServerAliveCountMax 2
            """);
        var bin = System.IO.Directory.CreateDirectory(Path.Combine(home, "bin")).FullName;
        var wrapper = Path.Combine(bin, "ssh");
        // SIGHUP ignored: pyzmq runs `ssh -f` under pexpect, whose pty hang-up can reach the forked ssh.
        File.WriteAllText(wrapper, $"#!/bin/sh\ntrap '' HUP\nexec /usr/bin/ssh -F '{config}' \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new Dictionary<string, string?>
        {
            ["HOME"] = home,
            ["PATH"] = bin + ":/usr/local/bin:/usr/bin:/bin",
            ["SSH_AUTH_SOCK"] = null,
            ["PYTHONDONTWRITEBYTECODE"] = "1",
            // pyzmq checks the host key against ~/.ssh/known_hosts and refuses an unknown one.
            ["PYZMQ_PARAMIKO_HOST_KEY_POLICY"] = "Reject",
        };
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
