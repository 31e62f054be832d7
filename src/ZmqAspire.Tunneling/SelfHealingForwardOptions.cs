using System.Net;

namespace ZmqAspire.Tunneling;

/// <summary>How a <see cref="SelfHealingForward"/> notices a dead SSH session and logs in again.</summary>
public sealed class SelfHealingForwardOptions
{
    /// <summary>
    /// Gets or sets the first wait before logging in again after a failed attempt, and before
    /// trying a target again after the SSH server refused a channel to it. Positive. Default: 0.5 seconds.
    /// </summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Gets or sets the longest wait between attempts: the wait doubles from
    /// <see cref="ReconnectDelay"/> up to this, with jitter (Polly's decorrelated exponential
    /// backoff for logins), so many clients do not retry in step. At least
    /// <see cref="ReconnectDelay"/>, at most one day. Default: 5 seconds.
    /// </summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how often the session is checked for a connection that closed without an
    /// error event. Default: 1 second.
    /// </summary>
    public TimeSpan LivenessPoll { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Checks the timings, so that a bad value is an error at start, not a dead loop later.</summary>
    /// <exception cref="ArgumentException">A timing is out of range; the message names it.</exception>
    public void Validate()
    {
        if (ReconnectDelay <= TimeSpan.Zero || ReconnectDelay > TimeSpan.FromDays(1))
        {
            throw new ArgumentException($"SelfHealingForwardOptions.ReconnectDelay must be positive and at most a day (was {ReconnectDelay}).", nameof(ReconnectDelay));
        }

        if (MaxReconnectDelay < ReconnectDelay || MaxReconnectDelay > TimeSpan.FromDays(1))
        {
            throw new ArgumentException($"SelfHealingForwardOptions.MaxReconnectDelay must be at least ReconnectDelay ({ReconnectDelay}) and at most a day (was {MaxReconnectDelay}).", nameof(MaxReconnectDelay));
        }

        if (LivenessPoll <= TimeSpan.Zero)
        {
            throw new ArgumentException($"SelfHealingForwardOptions.LivenessPoll must be positive (was {LivenessPoll}).", nameof(LivenessPoll));
        }
    }

    /// <summary>
    /// Gets or sets the address the local listeners bind to. Default: <c>127.0.0.1</c>, so only
    /// this machine can use the forward; another address (<c>0.0.0.0</c>) exposes it to the
    /// network, as <c>ssh -L 0.0.0.0:port:...</c> does.
    /// </summary>
    public IPAddress LocalAddress { get; set; } = IPAddress.Loopback;

    /// <summary>
    /// Gets or sets fixed local ports, one per target in order (0: the OS picks one). Default:
    /// <see langword="null"/>, the OS picks every port. A fixed port is for peers that cannot be
    /// told the port, such as a client that connects to <c>tcp://127.0.0.1:5557</c>.
    /// </summary>
    public IReadOnlyList<int>? LocalPorts { get; set; }

    /// <summary>
    /// Gets or sets how each login is made, given a token that cancels it: to wrap every attempt
    /// (in a span, say) around <see cref="SshTunnelSession.ConnectAsync"/> with the forward's
    /// <see cref="SshTunnelOptions"/>. It must throw what <see cref="SshTunnelSession.ConnectAsync"/>
    /// throws: an <see cref="SshServerUnreachableException"/> is retried with backoff, any other
    /// error stops the forward (<see cref="SelfHealingForward.Faulted"/>). Default:
    /// <see langword="null"/>, <see cref="SshTunnelSession.ConnectAsync"/> itself.
    /// </summary>
    public Func<CancellationToken, Task<SshTunnelSession>>? Login { get; set; }
}
