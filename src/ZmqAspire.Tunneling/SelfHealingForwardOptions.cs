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
}
