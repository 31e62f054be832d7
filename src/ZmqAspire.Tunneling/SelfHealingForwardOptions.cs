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
}
