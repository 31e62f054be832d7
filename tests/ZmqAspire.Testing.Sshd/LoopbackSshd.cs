using System.Globalization;
using System.Security.Cryptography;

namespace ZmqAspire.Testing.Sshd;

/// <summary>
/// A real OpenSSH sshd on 127.0.0.1 for one test run, the bastion most test fixtures need: a
/// fresh ed25519 host key in a 0700 temp directory, one system login user of the fixture's own
/// (so fixtures in concurrent test processes never race over one account) whose fresh ed25519
/// client key is in authorized_keys, key login, and forwards that reach 127.0.0.1 only, so no
/// test traffic leaves the machine. A fixture derives from it and adds what it needs. Needs root
/// (sshd's privilege separation, useradd).
/// </summary>
public class LoopbackSshd : IDisposable
{
    /// <summary>The only address sshd listens on and forwards to.</summary>
    public const string Loopback = "127.0.0.1";

    private readonly string _authorizedKeysPath;
    private readonly string _authorizedKeysDirectory;
    private readonly SshdProcess _sshd;

    /// <summary>Makes the keys and the user, and starts sshd.</summary>
    /// <param name="user">The login user (created once and kept; see <see cref="LoginUser"/>).</param>
    /// <param name="purpose">Who uses it, for the temp directory's name and the config's comment.</param>
    /// <param name="options">sshd_config lines that replace the defaults (sshd takes the first value of a keyword, and these come first), e.g. <c>PermitListen any</c>.</param>
    /// <param name="password">Give the user its random machine-wide password (<see cref="Password"/>, <see cref="LoginUser.EnsurePassword"/>); otherwise the account has none that could match.</param>
    /// <exception cref="InvalidOperationException">Not root on Linux, or sshd did not start.</exception>
    public LoopbackSshd(string user, string purpose, IReadOnlyList<string>? options = null, bool password = false)
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException(
                $"{purpose} must run as root on Linux: it creates the login user '{user}' and starts a real sshd. Run 'dotnet test' as root (as CI does).");
        }

        User = user;
        Directory = System.IO.Directory.CreateTempSubdirectory($"{user}-sshd-").FullName;
        File.SetUnixFileMode(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        LoginUser.Ensure(user);
        if (password)
        {
            Password = LoginUser.EnsurePassword(user);
        }
        else
        {
            // useradd leaves the account locked ('!'), and sshd without PAM refuses key logins to a
            // locked account; '*' unlocks it with no password that could ever match.
            ProcessRunner.RunChecked("/usr/sbin/usermod", ["-p", "*", user]);
        }

        HostKeyPath = SshKeygen.Generate(Path.Combine(Directory, "ssh_host_ed25519_key"), "ed25519", null, string.Empty, $"{purpose} host");
        HostKeyFingerprint = SshKeygen.Fingerprint(HostKeyPath + ".pub");
        HostPublicKey = SshKeygen.ReadPublicKey(HostKeyPath + ".pub");
        var other = SshKeygen.Generate(Path.Combine(Directory, "other_host_ed25519_key"), "ed25519", null, string.Empty, "a key sshd does not have");
        OtherHostKeyFingerprint = SshKeygen.Fingerprint(other + ".pub");

        // sshd reads authorized_keys as the login user, who cannot enter the root-only directory.
        _authorizedKeysDirectory = System.IO.Directory.CreateTempSubdirectory($"{user}-authkeys-").FullName;
        _authorizedKeysPath = Path.Combine(_authorizedKeysDirectory, "authorized_keys");
        File.WriteAllText(_authorizedKeysPath, string.Empty);
        KeyPath = AddClientKey("id_ed25519", purpose + " client");

        LogPath = Path.Combine(Directory, "sshd.log");
        _sshd = new SshdProcess(Path.Combine(Directory, "sshd_config"), LogPath, port => Config(port, purpose, options ?? []), TimeSpan.FromSeconds(30));
        _sshd.Start();
        Port = _sshd.Port;
        KnownHostsPath = Path.Combine(Directory, "known_hosts");
        File.WriteAllText(KnownHostsPath, string.Create(CultureInfo.InvariantCulture, $"[{Loopback}]:{Port} {HostPublicKey.Type} {HostPublicKey.Base64}\n"));
    }

    /// <summary>Gets the login user.</summary>
    public string User { get; }

    /// <summary>Gets the fixture's 0700 temp directory (keys, config, log).</summary>
    public string Directory { get; }

    /// <summary>Gets sshd's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Gets the server as <c>user@127.0.0.1:port</c>.</summary>
    public string Server => string.Create(CultureInfo.InvariantCulture, $"{User}@{Loopback}:{Port}");

    /// <summary>Gets the file sshd logs to.</summary>
    public string LogPath { get; }

    /// <summary>Gets sshd's private host key file.</summary>
    public string HostKeyPath { get; }

    /// <summary>Gets sshd's host key fingerprint, <c>SHA256:...</c>.</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>Gets sshd's public host key, as known_hosts and authorized_keys write it.</summary>
    public (string Type, string Base64) HostPublicKey { get; }

    /// <summary>Gets the fingerprint of an ed25519 host key sshd does not have: what an impostor would present.</summary>
    public string OtherHostKeyFingerprint { get; }

    /// <summary>Gets the client's private key (ed25519, no passphrase, in authorized_keys).</summary>
    public string KeyPath { get; }

    /// <summary>Gets a known_hosts file naming sshd's host key as <c>[127.0.0.1]:PORT</c>, as ssh writes it.</summary>
    public string KnownHostsPath { get; }

    /// <summary>Gets the user's password, or null when the fixture logs in with keys only.</summary>
    public string? Password { get; }

    /// <summary>Gets the process id of the listening sshd (its per-connection processes are its children).</summary>
    public int Pid => _sshd.Pid;

    /// <summary>Makes another ed25519 client key in <see cref="Directory"/>, and puts it in authorized_keys unless told not to.</summary>
    /// <returns>The private key's path.</returns>
    public string AddClientKey(string fileName, string comment, string passphrase = "", bool authorized = true)
    {
        var key = SshKeygen.Generate(Path.Combine(Directory, fileName), "ed25519", null, passphrase, comment);
        if (authorized)
        {
            File.AppendAllText(_authorizedKeysPath, File.ReadAllText(key + ".pub"));
            ProcessRunner.RunChecked("/usr/bin/chown", ["-R", $"{User}:", _authorizedKeysDirectory]);
        }

        return key;
    }

    /// <summary>Stops sshd with its sessions, waits <paramref name="down"/>, and starts it again on the same port.</summary>
    public void Restart(TimeSpan down) => _sshd.Restart(down);

    /// <summary>Gets the last lines of sshd's log, for failure messages.</summary>
    public string LogTail(int lines = 30) => _sshd.Tail(lines);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Stops sshd (ending its sessions) and deletes the temp directories.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        _sshd.Dispose();
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

    private string Config(int port, string purpose, IReadOnlyList<string> options) =>
        string.Join('\n', [
            $"# sshd of {purpose}: loopback only, one user, forwards to loopback only.",
            .. options,
            $"Port {port.ToString(CultureInfo.InvariantCulture)}",
            $"ListenAddress {Loopback}",
            $"HostKey {HostKeyPath}",
            $"PidFile {Path.Combine(Directory, "sshd.pid")}",
            $"AuthorizedKeysFile {_authorizedKeysPath}",
            "UsePAM no",
            "StrictModes no",
            "PubkeyAuthentication yes",
            $"PasswordAuthentication {(Password is null ? "no" : "yes")}",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            "AllowTcpForwarding yes",
            "GatewayPorts no",
            "PermitListen none",
            // Forwards reach loopback only: no test traffic leaves the machine.
            $"PermitOpen {Loopback}:*",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            $"AllowUsers {User}",
            "LogLevel VERBOSE",
            string.Empty,
        ]);
}
