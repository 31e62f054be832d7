using System.Text;

namespace ZmqAspire.Testing.Sshd;

/// <summary>
/// The seed's own peers (pyzmq, OpenSSH's <c>ssh</c>) run as a fresh local user against a
/// bastion (user <c>tunnel</c>). The only preparation is what a user does: a host key in
/// <c>~/.ssh/known_hosts</c> and, for key login, the client key as <c>~/.ssh/id_ed25519</c>.
/// </summary>
public sealed class SeedPeer : IDisposable
{
    private static readonly string SeedDirectory = Path.Combine(AppContext.BaseDirectory, "Seed");
    private readonly LocalAccount _account = LocalAccount.Create();

    /// <param name="host">The bastion's host name as this machine reaches it.</param>
    /// <param name="port">The bastion's SSH port.</param>
    /// <param name="knownHostKey">The public key known_hosts gives the bastion (<c>type base64</c>); null: an empty known_hosts.</param>
    /// <param name="clientPrivateKeyPath">The key installed as <c>~/.ssh/id_ed25519</c>; null: none (password login).</param>
    public SeedPeer(string host, int port, string? knownHostKey, string? clientPrivateKeyPath)
    {
        Host = host;
        Port = port;
        if (knownHostKey is not null)
        {
            _account.TrustHostKey(Host, Port, knownHostKey);
        }

        if (clientPrivateKeyPath is not null)
        {
            _account.InstallIdentity(clientPrivateKeyPath);
        }
    }

    /// <summary>Gets the bastion's host name as the host sees it.</summary>
    public string Host { get; }

    /// <summary>Gets the bastion's published SSH port.</summary>
    public int Port { get; }

    /// <summary>Gets <c>tunnel@host:port</c>, as pyzmq takes it.</summary>
    public string SshServer => $"tunnel@{Host}:{Port}";

    /// <summary>Runs one of the seed's Python clients (Seed/*.py) to its end.</summary>
    public ProcessResult RunPython(string script, IReadOnlyDictionary<string, string> environment, TimeSpan? timeout = null)
    {
        var copy = _account.Install(script, File.ReadAllText(Path.Combine(SeedDirectory, script)), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return _account.Run("/usr/bin/python3", [copy], timeout ?? TimeSpan.FromSeconds(120), environment);
    }

    /// <summary>Runs OpenSSH's <c>ssh</c> against the bastion to its end: <c>ssh -p PORT [options] tunnel@host [command]</c>.</summary>
    public ProcessResult RunSsh(IReadOnlyList<string> options, string? command, TimeSpan? timeout = null) =>
        _account.Run("/usr/bin/ssh", SshArguments(options, command), timeout ?? TimeSpan.FromSeconds(60));

    /// <summary>Starts OpenSSH's <c>ssh</c> against the bastion and leaves it running (the caller stops it).</summary>
    public System.Diagnostics.Process StartSsh(IReadOnlyList<string> options, string? command, StringBuilder output) =>
        _account.Start("/usr/bin/ssh", SshArguments(options, command), output);

    /// <summary>Writes the user's own <c>~/.ssh/config</c>.</summary>
    public void WriteSshConfig(string text) => _account.Install(".ssh/config", text, UnixFileMode.UserRead | UnixFileMode.UserWrite);

    /// <summary>Waits until an OpenSSH control master has made its socket (<c>~/.ssh/cm-*</c>).</summary>
    /// <exception cref="TimeoutException">No socket appeared in time.</exception>
    public async Task WaitForControlSocketAsync(TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Directory.EnumerateFileSystemEntries(Path.Combine(_account.Home, ".ssh"), "cm-*").Any())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("no control socket:\n" + describe());
    }

    public void Dispose() => _account.Dispose();

    private string[] SshArguments(IReadOnlyList<string> options, string? command) =>
        ["-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. options, $"tunnel@{Host}", .. command is null ? Array.Empty<string>() : [command]];

    /// <summary>The "Received reply N [ ... ]" lines the seed's clients print.</summary>
    public static IReadOnlyList<string> Replies(ProcessResult result) =>
        result.StandardOutput.Split('\n').Where(l => l.StartsWith("Received reply ", StringComparison.Ordinal)).ToList();

    /// <summary>Both streams, for assertion messages.</summary>
    public static string Describe(ProcessResult result) =>
        $"exit {result.ExitCode}\n--- stdout\n{result.StandardOutput}\n--- stderr\n{result.StandardError}";
}
