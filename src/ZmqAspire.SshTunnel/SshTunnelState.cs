namespace ZmqAspire.Tunneling;

/// <summary>Where an <see cref="SshTunnel"/> is in its life.</summary>
public enum SshTunnelStatus
{
    /// <summary>No SSH session: logging in (the first time, or again after the session was lost, with backoff). Connections to the local endpoints are held until a session is up.</summary>
    Connecting,

    /// <summary>A session is up and every local endpoint relays through it.</summary>
    Up,

    /// <summary>
    /// Given up for good: the host key, the credential or another setting was refused, which
    /// needs a person (see <see cref="SshTunnelState.Error"/>). The local endpoints are closed, so
    /// connecting sockets are refused.
    /// </summary>
    Faulted,

    /// <summary>Stopped with the host; the local endpoints are closed.</summary>
    Stopped,
}

/// <summary>
/// A snapshot of an <see cref="SshTunnel"/>: what is true now, and what last went wrong. Made by
/// the tunnel only (new properties may be added; compare with <see cref="Status"/>).
/// </summary>
public sealed record SshTunnelState
{
    internal SshTunnelState(SshTunnelStatus status, string description, DateTimeOffset since)
    {
        Status = status;
        Description = description;
        Since = since;
    }

    /// <summary>Gets where the tunnel is.</summary>
    public SshTunnelStatus Status { get; internal init; }

    /// <summary>
    /// Gets the state in words, for logs and the health report (for example
    /// <c>forwarding tcp://127.0.0.1:40123 -> tcp://server:5556 via tunnel@bastion:2222</c>, or
    /// why there is no session). Never holds a secret.
    /// </summary>
    public string Description { get; internal init; }

    /// <summary>Gets when <see cref="Status"/> began (UTC).</summary>
    public DateTimeOffset Since { get; internal init; }

    /// <summary>Gets the host key accepted for the current session, <c>SHA256:...</c>; <see langword="null"/> unless <see cref="SshTunnelStatus.Up"/>.</summary>
    public string? HostKeyFingerprint { get; internal init; }

    /// <summary>Gets how many sessions have been up so far (1 after the first login; each reconnect adds one).</summary>
    public int SessionCount { get; internal init; }

    /// <summary>
    /// Gets the remote endpoints the bastion refuses channels to now (SSH_MSG_CHANNEL_OPEN_FAILURE,
    /// RFC 4254 section 5.1: the target is down or not permitted), until a channel to one opens
    /// again; empty while every target opens. In <see cref="SshTunnel.RemoteEndpoints"/>' order.
    /// </summary>
    public IReadOnlyList<TcpEndpoint> RefusedTargets { get; internal init; } = [];

    /// <summary>Gets how many forward failures have been reported since the start (target outages, once each, and relay errors).</summary>
    public long ForwardFailures { get; internal init; }

    /// <summary>Gets when the last forward failure was reported (UTC), if any: history, not a state.</summary>
    public DateTimeOffset? LastForwardFailureAt { get; internal init; }

    /// <summary>Gets what the last forward failure was, if any.</summary>
    public string? LastForwardFailure { get; internal init; }

    /// <summary>
    /// Gets why the tunnel is not up: the last login failure while
    /// <see cref="SshTunnelStatus.Connecting"/> (an <see cref="SshServerUnreachableException"/>), the
    /// refusal while <see cref="SshTunnelStatus.Faulted"/> (an <see cref="SshHostKeyRejectedException"/>
    /// or <see cref="SshTunnelAuthenticationException"/>, say); <see langword="null"/> while up.
    /// </summary>
    public SshTunnelException? Error { get; internal init; }
}
