using System.Net;

namespace ZmqAspire.Tunneling;

/// <summary>How a <see cref="SelfHealingForward"/> notices a dead SSH session and logs in again.</summary>
public sealed class SelfHealingForwardOptions
{
    /// <summary>Gets or sets the first wait before logging in again after a failed attempt. Default: 0.5 seconds.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Gets or sets the longest wait between attempts: the wait doubles from
    /// <see cref="ReconnectDelay"/> up to this, with jitter (Polly's decorrelated exponential
    /// backoff), so many clients do not retry in step. Default: 5 seconds.
    /// </summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets how often the session is checked for a connection that closed without an
    /// error event. Default: 1 second.
    /// </summary>
    public TimeSpan LivenessPoll { get; set; } = TimeSpan.FromSeconds(1);

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
}
