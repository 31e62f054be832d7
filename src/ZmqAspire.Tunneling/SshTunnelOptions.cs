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
    /// When neither this nor <see cref="Password"/> is set, the default keys are tried as
    /// OpenSSH's <c>ssh</c> tries them in batch mode, in its order (<c>~/.ssh/id_rsa</c>,
    /// <c>id_ecdsa</c>, <c>id_ecdsa_sk</c>, <c>id_ed25519</c>, <c>id_ed25519_sk</c>, <c>id_dsa</c>):
    /// each that exists and loads is offered (an encrypted one with
    /// <see cref="PrivateKeyPassphrase"/>, if set), and one that cannot be used (encrypted with
    /// no passphrase, a type SSH.NET lacks) is skipped; errors name each key tried and why it
    /// failed.
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

    /// <summary>
    /// Checks, without connecting, everything that does not depend on the server: the options
    /// are complete, a credential can be offered (the key in <see cref="PrivateKeyPath"/> loads
    /// with <see cref="PrivateKeyPassphrase"/>, or a password is set, or a default key loads),
    /// and a known_hosts file given to <see cref="HostKey"/> can be read. Reads key files; call
    /// it at start-up so that a misconfiguration stops the program at once rather than at login.
    /// </summary>
    /// <exception cref="ArgumentException">A required value is missing or out of range.</exception>
    /// <exception cref="SshPrivateKeyException">The key in <see cref="PrivateKeyPath"/> is missing, unreadable, or its passphrase is missing or wrong.</exception>
    /// <exception cref="SshTunnelConfigurationException">No credential can be offered, or the known_hosts file cannot be read; <see cref="SshTunnelConfigurationException.Setting"/> names the property.</exception>
    public void CheckBeforeConnecting()
    {
        Validate();
        HostKey.CheckReadable();
        var loaded = SshCredentials.Create(this);
        Array.ForEach(loaded.Owned, o => o.Dispose());
    }

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
