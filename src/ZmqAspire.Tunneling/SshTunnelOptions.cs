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
    /// <see cref="SshServerUnreachableException"/> is thrown, and how long the server may take
    /// to answer a channel open (RFC 4254 section 5.1) before the local connection is closed and
    /// its target counted unreachable. Default: 10 seconds.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets the interval of SSH keep-alive messages, which keep idle NAT and firewall
    /// state alive; <see cref="Timeout.InfiniteTimeSpan"/> turns them off. Default: 15 seconds.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Gets or sets how often the SSH server is asked to prove it is alive, as OpenSSH's
    /// <c>ServerAliveInterval</c>: an <c>SSH_MSG_GLOBAL_REQUEST "keepalive@openssh.com"</c> with
    /// want-reply (RFC 4254 section 4), which the server must answer (OpenSSH answers
    /// <c>SSH_MSG_REQUEST_FAILURE</c> to a request it does not know, RFC 4254 section 4: any answer
    /// is proof of life). Unlike <see cref="KeepAliveInterval"/> (<c>SSH_MSG_IGNORE</c>, never
    /// answered), this notices a server that went silent, also while no request is in flight.
    /// One probe is outstanding at a time, sent every interval while the last was answered. <see cref="TimeSpan.Zero"/> or
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns the probe off. Default: 1 second (while idle
    /// about 70 bytes/s of SSH packets to the server and 40 back, measured in docs/reliability.md).
    /// </summary>
    public TimeSpan ServerAliveInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets how many <see cref="ServerAliveInterval"/>s the server may stay silent (no
    /// answer to a probe, no channel data) with a probe outstanding before the session counts as
    /// dead, as OpenSSH's <c>ServerAliveCountMax</c>: the session is then dropped
    /// (<see cref="SshTunnelSession.IsConnected"/> turns false and
    /// <see cref="SshTunnelSession.ServerAliveTimedOut"/> is raised) within a quarter interval of
    /// interval × count of silence. At least 1. Default: 3 (3 seconds with the default interval).
    /// </summary>
    public int ServerAliveCountMax { get; set; } = 3;

    /// <summary>
    /// Gets or sets the window each forwarded connection's SSH channel advertises to the server,
    /// in bytes: how much data the server may send toward us (server to client, replies) before
    /// it must wait for SSH_MSG_CHANNEL_WINDOW_ADJUST (RFC 4254 section 5.2). The window is
    /// reopened only for bytes the local socket has accepted, so it is also the most the server
    /// can have in flight for a local reader that stops, per connection. Over a link with round
    /// trip RTT the reply direction moves at most about one window per RTT: OpenSSH's fixed
    /// 2 MiB (CHAN_TCP_WINDOW_DEFAULT) caps a 50 ms link at about 40 MiB/s. The data toward the
    /// server is bounded by the window the server advertises (OpenSSH's sshd: 2 MiB), which no
    /// client setting changes. From 64 KiB to 1 GiB. Default: 8 MiB (measured in docs/benchmarks.md,
    /// "WAN mode"). Applies to the library's own channels (the default; not with
    /// <c>ZMQASPIRE_TUNNEL_OWNCHANNELS=0</c>, where SSH.NET advertises its fixed 2 GiB and reopens it before writing).
    /// </summary>
    public int ChannelWindowSize { get; set; } = DefaultChannelWindowSize;

    /// <summary>The default <see cref="ChannelWindowSize"/>: 8 MiB, in bytes.</summary>
    public const int DefaultChannelWindowSize = 8 * 1024 * 1024;

    /// <summary>
    /// Gets or sets a value indicating whether the session socket keeps the 137 KB receive buffer
    /// SSH.NET sets (the behaviour before issue #19's fix, <see cref="SessionReceiveBuffer"/>): for the
    /// benchmark's before/after mode only.
    /// </summary>
    internal bool KeepSshNetSocketBuffers { get; set; }

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

        if (ServerAliveInterval < TimeSpan.Zero && ServerAliveInterval != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"SshTunnelOptions.ServerAliveInterval must be positive, zero (off) or infinite (off) (was {ServerAliveInterval}).", nameof(ServerAliveInterval));
        }

        if (ChannelWindowSize is < 64 * 1024 or > 1024 * 1024 * 1024)
        {
            throw new ArgumentException($"SshTunnelOptions.ChannelWindowSize must be from 64 KiB to 1 GiB, in bytes (was {ChannelWindowSize}).", nameof(ChannelWindowSize));
        }

        if (ServerAliveCountMax < 1)
        {
            throw new ArgumentException($"SshTunnelOptions.ServerAliveCountMax must be at least 1 (was {ServerAliveCountMax}).", nameof(ServerAliveCountMax));
        }
    }
}
