namespace ZmqAspire.Tunneling;

/// <summary>
/// One SSH tunnel's settings, as <c>AddSshTunnel(name)</c> binds them: first the shared section
/// <c>ZmqAspire:SshTunnel</c>, then the tunnel's own <c>ZmqAspire:SshTunnel:{name}</c>, then the
/// connection string <c>ConnectionStrings:{name}</c> (its values win), then the configure
/// callback. The connection string is <c>key=value</c> pairs separated by <c>;</c>, keys
/// case-insensitive: <see cref="SshServer"/>, <see cref="HostKeyFingerprint"/> or
/// <see cref="KnownHostsPath"/>, <see cref="RemoteEndpoint"/>, <see cref="PrivateKeyPath"/>
/// (with <see cref="PrivateKeyPassphrase"/>) or <see cref="Password"/>; the timings and switches
/// come from the sections or the callback only. Checked when the host starts: a missing or
/// malformed value stops it with a message naming the key and the connection.
/// </summary>
public sealed class SshTunnelSettings
{
    /// <summary>The shared configuration section; a tunnel's own section is <c>ZmqAspire:SshTunnel:{name}</c>.</summary>
    public const string DefaultConfigSectionName = "ZmqAspire:SshTunnel";

    /// <summary>Gets or sets the bastion, <c>user@host[:port]</c> (port 22 unless given; IPv6 in brackets). Required.</summary>
    public string? SshServer { get; set; }

    /// <summary>
    /// Gets or sets the bastion's pinned host key fingerprint(s), <c>SHA256:</c> and unpadded
    /// base64 as <c>ssh-keygen -lf</c> prints them, comma-separated (several during a host key
    /// rotation). This or <see cref="KnownHostsPath"/> is required: an unknown host key is never accepted.
    /// </summary>
    public string? HostKeyFingerprint { get; set; }

    /// <summary>Gets or sets an OpenSSH known_hosts file to check the bastion's host key against, instead of <see cref="HostKeyFingerprint"/>.</summary>
    public string? KnownHostsPath { get; set; }

    /// <summary>
    /// Gets or sets the server's endpoint as the bastion sees it, <c>tcp://host:port</c>; for
    /// several server replicas, one per replica, comma-separated, in order. One local forward is
    /// opened per endpoint, all over one SSH session. Required.
    /// </summary>
    public string? RemoteEndpoint { get; set; }

    /// <summary>
    /// Gets or sets the private key file (OpenSSH or PEM; ed25519, ecdsa or rsa). When neither
    /// this nor <see cref="Password"/> is set, OpenSSH's default keys (<c>~/.ssh/id_*</c>) are tried.
    /// </summary>
    public string? PrivateKeyPath { get; set; }

    /// <summary>Gets or sets the passphrase of an encrypted <see cref="PrivateKeyPath"/>; never logged nor reported.</summary>
    public string? PrivateKeyPassphrase { get; set; }

    /// <summary>Gets or sets a password for password login (opt-in, tried after keys); never logged nor reported.</summary>
    public string? Password { get; set; }

    /// <summary>Gets or sets the time allowed to connect, exchange keys and log in to the bastion. Positive. Default: 10 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the first wait before logging in again after a failed attempt (and before trying a refused target again). Positive, at most a day. Default: 0.5 seconds.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Gets or sets the longest wait between attempts (exponential backoff with jitter). At least <see cref="ReconnectDelay"/>, at most a day. Default: 5 seconds.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how long the bastion may stay silent before a keep-alive probe
    /// (<c>keepalive@openssh.com</c>, as OpenSSH's ServerAliveInterval) is sent; zero turns the probe off. Default: 1 second.
    /// </summary>
    public TimeSpan ServerAliveInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets how many keep-alive probes may go unanswered before the session is dropped and
    /// logged in again (as OpenSSH's ServerAliveCountMax). At least 1. Default: 3.
    /// </summary>
    public int ServerAliveCountMax { get; set; } = 3;

    /// <summary>
    /// Gets or sets the window, in bytes, that each forwarded connection's SSH channel advertises
    /// for data from the server (RFC 4254 section 5.2): over a link with round trip RTT, replies
    /// move at most about one window per RTT. From 64 KiB to 1 GiB. Default: 8 MiB
    /// (<see cref="SshTunnelOptions.DefaultChannelWindowSize"/>; OpenSSH advertises a fixed 2 MiB).
    /// </summary>
    public int ChannelWindowSize { get; set; } = SshTunnelOptions.DefaultChannelWindowSize;

    /// <summary>Gets or sets a value indicating whether the tunnel's health check is left out. Default: <see langword="false"/> (registered as <c>ZmqAspire.SshTunnel_{name}</c>).</summary>
    public bool DisableHealthChecks { get; set; }

    /// <summary>Gets or sets a value indicating whether the tunnel makes no spans and its ActivitySource is not added to OpenTelemetry. Default: <see langword="false"/>.</summary>
    public bool DisableTracing { get; set; }

    /// <summary>Gets or sets a value indicating whether the tunnel records no metrics and its Meter is not added to OpenTelemetry. Default: <see langword="false"/>.</summary>
    public bool DisableMetrics { get; set; }
}
