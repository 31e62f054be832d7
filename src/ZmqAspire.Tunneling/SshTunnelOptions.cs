namespace ZmqAspire.Tunneling;

/// <summary>
/// How to reach and log in to the SSH server that carries the tunnel. Key authentication is the
/// default; a password is used only when <see cref="Password"/> is set. Nothing is ever read
/// from standard input.
/// </summary>
public sealed class SshTunnelOptions
{
    /// <summary>Gets or sets the SSH server, <c>user@host[:port]</c>. Required.</summary>
    public required SshServerAddress Server { get; set; }

    /// <summary>Gets or sets how the server's host key is checked. Required: there is no "trust any key" setting.</summary>
    public required HostKeyPolicy HostKey { get; set; }

    /// <summary>
    /// Gets or sets the path of a private key in OpenSSH or PEM format (ed25519, ecdsa or rsa).
    /// When neither this nor <see cref="Password"/> is set, the default keys
    /// <c>~/.ssh/id_ed25519</c>, <c>~/.ssh/id_ecdsa</c> and <c>~/.ssh/id_rsa</c> that exist are offered, as ssh does.
    /// </summary>
    public string? PrivateKeyPath { get; set; }

    /// <summary>Gets or sets the passphrase of an encrypted private key; never logged.</summary>
    public string? PrivateKeyPassphrase { get; set; }

    /// <summary>Gets or sets a password for password authentication (opt-in; tried after keys); never logged.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// Gets or sets how long connecting, key exchange and login may take together before
    /// <see cref="SshServerUnreachableException"/> is thrown. Default: 10 seconds.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets the interval of SSH keep-alive messages, which keep idle NAT and firewall
    /// state alive; <see cref="Timeout.InfiniteTimeSpan"/> turns them off. Default: 15 seconds.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Checks the options before any connection is made.</summary>
    /// <exception cref="ArgumentException">A required value is missing or out of range.</exception>
    internal void Validate()
    {
        if (Server is null)
        {
            throw new ArgumentException("SshTunnelOptions.Server is required (user@host[:port]).", nameof(Server));
        }

        if (HostKey is null)
        {
            throw new ArgumentException("SshTunnelOptions.HostKey is required: pin a fingerprint or give a known_hosts file.", nameof(HostKey));
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("SshTunnelOptions.ConnectTimeout must be positive.", nameof(ConnectTimeout));
        }
    }
}
