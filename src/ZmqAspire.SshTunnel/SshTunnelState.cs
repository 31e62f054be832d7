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

/// <summary>A snapshot of an <see cref="SshTunnel"/>: what is true now, and what last went wrong.</summary>
/// <param name="Status">Where the tunnel is.</param>
/// <param name="Description">The state in words, for logs and the health report (for example
/// <c>forwarding tcp://127.0.0.1:40123 to tcp://server:5556 via tunnel@bastion:2222</c>, or why
/// there is no session). Never holds a secret.</param>
/// <param name="Since">When <paramref name="Status"/> began (UTC).</param>
/// <param name="HostKeyFingerprint">The host key accepted for the current session, <c>SHA256:...</c>; <see langword="null"/> unless <see cref="SshTunnelStatus.Up"/>.</param>
/// <param name="SessionCount">How many sessions have been up so far (1 after the first login; each reconnect adds one).</param>
/// <param name="RefusedTargets">The remote endpoints the bastion refuses channels to now
/// (SSH_MSG_CHANNEL_OPEN_FAILURE, RFC 4254 section 5.1: the target is down or not permitted),
/// until a channel to it opens again; empty while every target opens.</param>
/// <param name="ForwardFailures">How many forward failures have been reported since the start (target outages and relay errors).</param>
/// <param name="LastForwardFailureAt">When the last forward failure was reported (UTC), if any; history, not a state.</param>
/// <param name="LastForwardFailure">What the last forward failure was, if any.</param>
/// <param name="Error">Why the tunnel is not up: the last login failure while
/// <see cref="SshTunnelStatus.Connecting"/>, the refusal while <see cref="SshTunnelStatus.Faulted"/>
/// (an <see cref="SshHostKeyRejectedException"/>, say); <see langword="null"/> while up.</param>
public sealed record SshTunnelState(
    SshTunnelStatus Status,
    string Description,
    DateTimeOffset Since,
    string? HostKeyFingerprint,
    int SessionCount,
    IReadOnlyList<TcpEndpoint> RefusedTargets,
    long ForwardFailures,
    DateTimeOffset? LastForwardFailureAt,
    string? LastForwardFailure,
    SshTunnelException? Error);
