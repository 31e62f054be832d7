using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ZmqAspire.Testing.Sshd;

/// <summary>
/// A throw-away local user for running a stock SSH peer (OpenSSH's <c>ssh</c>, pyzmq's tunnels,
/// paramiko) the way its users run it: with a home of its own whose <c>~/.ssh/known_hosts</c> and
/// <c>~/.ssh/id_*</c> are the only preparation, the system's <c>/etc/ssh/ssh_config</c>, a clean
/// environment and no terminal (so nothing can prompt). OpenSSH reads <c>~/.ssh</c> from the
/// passwd entry, not from <c>HOME</c>, which is why a real account is needed rather than a
/// temporary <c>HOME</c> or an <c>ssh</c> wrapper. Needs root (useradd, runuser).
/// </summary>
public sealed class LocalAccount : IDisposable
{
    private LocalAccount(string name, string home)
    {
        Name = name;
        Home = home;
    }

    /// <summary>Gets the account's user name.</summary>
    public string Name { get; }

    /// <summary>Gets the account's home folder.</summary>
    public string Home { get; }

    /// <summary>Creates a new account with a fresh home and an empty <c>~/.ssh</c> (0700).</summary>
    /// <exception cref="InvalidOperationException">useradd failed (not root?).</exception>
    public static LocalAccount Create()
    {
        var name = "zqa" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
        ProcessRunner.RunChecked("/usr/sbin/useradd", ["--create-home", "--shell", "/bin/sh", name]);
        var account = new LocalAccount(name, $"/home/{name}");
        account.Install(".ssh", content: null, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return account;
    }

    /// <summary>Adds the host key to <c>~/.ssh/known_hosts</c> as <c>ssh</c> writes it (<c>[host]:port</c> unless port 22).</summary>
    /// <param name="host">The host name or address the peer will connect to.</param>
    /// <param name="port">The SSH port.</param>
    /// <param name="publicKey">The host's public key line (<c>type base64 [comment]</c>).</param>
    public void TrustHostKey(string host, int port, string publicKey)
    {
        var parts = publicKey.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var name = port == 22 ? host : $"[{host}]:{port.ToString(CultureInfo.InvariantCulture)}";
        Install(".ssh/known_hosts", $"{name} {parts[0]} {parts[1]}\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>Installs a private key as one of ssh's default identities, e.g. <c>id_ed25519</c> (0600).</summary>
    /// <returns>The key's path in the account's home.</returns>
    public string InstallIdentity(string privateKeyPath, string fileName = "id_ed25519") =>
        Install($".ssh/{fileName}", File.ReadAllText(privateKeyPath), UnixFileMode.UserRead | UnixFileMode.UserWrite);

    /// <summary>Writes a file (or, with null content, a folder) into the home, owned by the account.</summary>
    /// <returns>The full path.</returns>
    public string Install(string relativePath, string? content, UnixFileMode mode)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("LocalAccount uses useradd and runuser: Linux only.");
        }

        var path = Path.Combine(Home, relativePath);
        if (content is null)
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            File.WriteAllText(path, content);
        }

        File.SetUnixFileMode(path, mode);
        ProcessRunner.RunChecked("/bin/chown", [$"{Name}:{Name}", path]);
        return path;
    }

    /// <summary>
    /// Runs a program as the account, in its home, in a new session with no controlling terminal
    /// and stdin closed, with only <c>HOME</c>, <c>USER</c>, <c>PATH</c>, <c>LANG</c> and
    /// <paramref name="environment"/> set. Children that leave the session (<c>ssh -f</c>) are
    /// not waited for.
    /// </summary>
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/> (it is killed).</exception>
    public ProcessResult Run(string fileName, IReadOnlyList<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var command = CommandLine(fileName, arguments, environment);
        return ProcessRunner.Run(command[0], command.Skip(1).ToList(), timeout: timeout);
    }

    /// <summary>Starts a long-running program as the account (as <see cref="Run"/>), its output appended to <paramref name="output"/>.</summary>
    public Process Start(string fileName, IReadOnlyList<string> arguments, StringBuilder output)
    {
        var command = CommandLine(fileName, arguments, environment: null);
        var info = new ProcessStartInfo(command[0]);
        foreach (var argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }

        return ProcessRunner.StartCapturing(info, output);
    }

    /// <summary>
    /// The command line that runs a program as the account: in a new session with no controlling
    /// terminal (<c>setsid --wait</c>, so getpass and ssh cannot prompt, and its exit status is
    /// kept), with the account's uid and groups (<c>runuser</c>), in <paramref name="workingDirectory"/>
    /// (default: its home), with only <c>HOME</c>, <c>USER</c>, <c>LOGNAME</c>, <c>PATH</c>,
    /// <c>LANG</c> and <paramref name="environment"/> set.
    /// </summary>
    /// <returns>The program (element 0) and its arguments.</returns>
    public IReadOnlyList<string> CommandLine(string fileName, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment, string? workingDirectory = null)
    {
        string[] prefix = ["/usr/bin/setsid", "--wait", "/usr/sbin/runuser", "-u", Name, "--", "/usr/bin/env", "-i", "-C", workingDirectory ?? Home,
            $"HOME={Home}", $"USER={Name}", $"LOGNAME={Name}", "PATH=/usr/bin:/bin", "LANG=C.UTF-8"];
        return prefix
            .Concat((environment ?? new Dictionary<string, string>()).Select(e => $"{e.Key}={e.Value}"))
            .Append(fileName)
            .Concat(arguments)
            .ToList();
    }

    /// <summary>Removes the account and its home. Processes it left (a peer's own background ssh) are not touched.</summary>
    public void Dispose() => ProcessRunner.Run("/usr/sbin/userdel", ["--force", "--remove", Name]);
}
